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

/** Tokens/s of one stream from the times (ms) its tokens arrived: all but the first token, over their span. */
export function streamRate(times: readonly number[]): number {
  if (times.length < 2) return NaN;
  return ((times.length - 1) * 1000) / ((times[times.length - 1] as number) - (times[0] as number));
}

/**
 * Aggregate tokens/s of N streams while every one of them decodes: the window runs from the last
 * stream's first token (all prefills done) to the first stream's last token (none finished).
 */
export function parallelRate(streams: readonly (readonly number[])[]): number {
  const start = Math.max(...streams.map((t) => t[0] ?? Infinity));
  const end = Math.min(...streams.map((t) => t[t.length - 1] ?? -Infinity));
  if (!(end > start)) return NaN;
  let n = 0;
  for (const t of streams) for (const x of t) if (x > start && x <= end) n++;
  return (n * 1000) / (end - start);
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}
