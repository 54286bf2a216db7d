// What one bench worker process runs (bench/workers/*), and the arithmetic both engines' figures go
// through, so kvserve and llama.cpp are measured on the same prompts with the same clock rules.
import type { BenchDtype, BenchShape } from './synthetic-models.js';

export type EngineName = 'kvserve' | 'llama.cpp';

export interface WorkerTask {
  engine: EngineName;
  shape: BenchShape;
  dtype: BenchDtype;
  path: string;
  threads: number;
  /** Seeds the prompts, so each repeat sees new prompts (no prefix-cache hits across measures). */
  seed: number;
  decodeTokens: number;      // decode, 1 sequence: tokens generated
  /** Decode runs stop after this many seconds even short of their tokens (a slow engine on a busy
   * machine would otherwise take many minutes); rates are computed from the tokens that came. */
  budgetS: number;
  prefillTokens: number;     // prefill: prompt length (the first token's time is the prefill time)
  parallelSeqs: number;      // decode, N sequences
  parallelTokens: number;    // tokens generated per sequence
  /** kvserve only: also measure engine overhead and event-loop lag during the parallel decode. */
  engineOverhead?: boolean;
  /** kvserve only: time to first token after a shared prefix of this many tokens, with and without prefix caching. */
  prefixTokens?: number;
}

export interface WorkerResult {
  /** Decode tokens/s of one sequence (tokens after the first over their time). */
  decode1: number;
  /** Prompt tokens/s of the prefill (prompt length / time to the first token). */
  prefill: number;
  /** Aggregate decode tokens/s of N sequences while all of them decode. */
  decodeN: number;
  /** The same three rates over process CPU time / threads instead of wall time: what the run did
   * while it had the cores (on a busy machine the wall-clock rates also count the waits for a core). */
  cpu?: { decode1: number; prefill: number; decodeN: number };
  overhead?: { outsideComputeFraction: number; stepMs: number; computeMs: number; loopLagP99Ms: number; steps: number };
  prefix?: { ttftCachedMs: number; ttftUncachedMs: number };
}

/** Deterministic prompt token ids: BOS then ids in [300, 31300). */
export function prompt(length: number, seed: number): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const ids = [1];
  while (ids.length < length) ids.push(300 + Math.floor(rand() * 31000));
  return ids;
}

/** When a token arrived: wall ms (performance.now) and the process's CPU ms (user + system) so far. */
export interface Stamp {
  t: number;
  cpu: number;
}

export function stamp(): Stamp {
  const u = process.cpuUsage();
  return { t: performance.now(), cpu: (u.user + u.system) / 1000 };
}

/** Rates of one run: tokens per wall second, and per (CPU second / threads). */
export interface Rate {
  wall: number;
  cpu: number;
}

function rate(tokens: number, from: Stamp, to: Stamp, threads: number): Rate {
  return { wall: (tokens * 1000) / (to.t - from.t), cpu: (tokens * 1000 * threads) / (to.cpu - from.cpu) };
}

/** Tokens/s of one stream from when its tokens arrived: all but the first token, over their span. */
export function streamRate(stamps: readonly Stamp[], threads: number): Rate {
  if (stamps.length < 2) return { wall: NaN, cpu: NaN };
  return rate(stamps.length - 1, stamps[0] as Stamp, stamps[stamps.length - 1] as Stamp, threads);
}

/**
 * Aggregate tokens/s of N streams while every one of them decodes: the window runs from the last
 * stream's first token (all prefills done) to the first stream's last token (none finished).
 */
export function parallelRate(streams: readonly (readonly Stamp[])[], threads: number): Rate {
  let start: Stamp | undefined;
  let end: Stamp | undefined;
  for (const s of streams) {
    const first = s[0], last = s[s.length - 1];
    if (!first || !last) return { wall: NaN, cpu: NaN };
    if (!start || first.t > start.t) start = first;
    if (!end || last.t < end.t) end = last;
  }
  if (!start || !end || !(end.t > start.t)) return { wall: NaN, cpu: NaN };
  let n = 0;
  for (const s of streams) for (const x of s) if (x.t > start.t && x.t <= end.t) n++;
  return rate(n, start, end, threads);
}

/** Prompt tokens/s of a prefill from the stamps before the request and at its first token. */
export function prefillRate(tokens: number, before: Stamp, first: Stamp, threads: number): Rate {
  return rate(tokens, before, first, threads);
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}
