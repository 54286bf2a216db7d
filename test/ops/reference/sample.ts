// Naive reference of the sample op (native/ops/sample/sample.h), in double precision, one step at a
// time: full sorts, a Map of counts, the same counter-based hash as the kernel (so the chosen id can be
// compared exactly where the draw is not a near tie). processRow does steps 0-9 once per (row, params);
// race does step 10 for a (seed, counter).
import type { SampleRowParams } from '../../../lib/runner/sample-params-packing.js';

const FLT_MAX = 3.4028234663852886e38;
const MASK64 = (1n << 64n) - 1n;

export function splitmix64(z: bigint): bigint {
  z = (z + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

export function rowKey(seed: number, counter: number): bigint {
  return splitmix64(BigInt(seed) ^ splitmix64(BigInt(counter)));
}

export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x21f0aaad) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x735a2d97) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

export function tokenBits(key: bigint, token: number): number {
  const k0 = Number(key & 0xffffffffn);
  const k1 = Number(key >> 32n);
  return mix32((mix32((token ^ k0) >>> 0) + k1) >>> 0);
}

/** E = -ln(u), u = (bits + 0.5) / 2^32, formed as the kernel does (float rounding of the folded bits). */
export function exponentialFromBits(bits: number): number {
  const top = bits >= 0x80000000;
  const folded = top ? ~bits >>> 0 : bits;
  const f = Math.fround(Math.fround(folded) + 0.5) * 2 ** -32;
  return top ? -Math.log1p(-f) : -Math.log(f);
}

export interface SampleRefInput {
  logits: ArrayLike<number>;
  params: SampleRowParams;
  prompt: ArrayLike<number>;
  output: ArrayLike<number>;
  bias: ReadonlyArray<readonly [tokenId: number, value: number]>;
}

export interface ProcessedRow {
  vocab: number;
  raw: number[];
  /** log_softmax(raw): NaN when no raw logit is finite. */
  rawLogprobs: number[];
  topIds: number[];
  topLogprobs: number[];
  greedy: boolean;
  /** Tokens that can be drawn, best first, and their probabilities (renormalized). */
  keptIds: number[];
  keptProbs: number[];
  /** Unnormalized weights exp(rel) of keptIds, as the race uses them. */
  keptWeights: number[];
  /** The best token the filters dropped (the next one in order after the kept prefix), if any, and its weight. */
  droppedId: number | null;
  droppedWeight: number;
  /** Smallest relative distance of a top-p or min-p decision from its threshold (Infinity: none made). */
  cutMargin: number;
}

/** Ids in the pipeline's order: larger value first, then lower id. */
function sortedIds(values: ArrayLike<number>, ids: number[] = Array.from({ length: values.length }, (_, i) => i)): number[] {
  return ids.sort((a, b) => {
    const va = values[a] as number, vb = values[b] as number;
    return va === vb ? a - b : vb - va;
  });
}

function argmaxFirst(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Steps 0-9 of the pipeline. */
export function processRow(input: SampleRefInput): ProcessedRow {
  // The kernel holds these parameters as float32: use the same values.
  const f = Math.fround;
  const p: SampleRowParams = {
    ...input.params,
    temperature: f(input.params.temperature), topP: f(input.params.topP), minP: f(input.params.minP),
    repetitionPenalty: f(input.params.repetitionPenalty), presencePenalty: f(input.params.presencePenalty),
    frequencyPenalty: f(input.params.frequencyPenalty),
  };
  const vocab = input.logits.length;
  // 0. sanitize
  const raw = Array.from(input.logits, (v) => (Number.isNaN(v) ? -Infinity : v === Infinity ? FLT_MAX : v));
  // 1. raw logprobs
  const rawMax = raw.reduce((m, v) => Math.max(m, v), -Infinity);
  let logZ = NaN;
  if (rawMax > -Infinity) {
    let z = 0;
    for (const v of raw) z += Math.exp(v - rawMax);
    logZ = Math.log(z);
  }
  const rawLogprobs = raw.map((v) => v - rawMax - logZ);
  const topIds = p.numLogprobs > 0 ? sortedIds(raw).slice(0, Math.min(p.numLogprobs, vocab)) : [];
  const topLogprobs = topIds.map((id) => rawLogprobs[id] as number);
  // 2. bias
  const x = raw.slice();
  const saturate = (v: number): number => (v > FLT_MAX ? FLT_MAX : v);
  for (const [id, value] of input.bias) x[id] = saturate((x[id] as number) + value);
  // 3-4. penalties over distinct tokens
  const outputCounts = new Map<number, number>();
  for (const t of Array.from(input.output)) outputCounts.set(t, (outputCounts.get(t) ?? 0) + 1);
  const touched = new Set<number>([...(p.repetitionPenalty !== 1 ? Array.from(input.prompt) : []), ...outputCounts.keys()]);
  const penalized = p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
  if (penalized) {
    for (const t of touched) {
      let v = x[t] as number;
      if (p.repetitionPenalty !== 1) v = v > 0 ? v / p.repetitionPenalty : v * p.repetitionPenalty;
      const count = outputCounts.get(t) ?? 0;
      if (count > 0) v = v - p.frequencyPenalty * count - p.presencePenalty;
      x[t] = saturate(v);
    }
  }
  const base = { vocab, raw, rawLogprobs, topIds, topLogprobs };
  // 5. greedy
  const max = x.reduce((m, v) => Math.max(m, v), -Infinity);
  if (!(p.temperature >= 1e-5) || !(max > -Infinity)) {
    const id = argmaxFirst(x);
    return {
      ...base, greedy: true, keptIds: [id], keptProbs: [1], keptWeights: [1], droppedId: null, droppedWeight: 0,
      cutMargin: Infinity,
    };
  }
  // 6-9. temperature, top-k, top-p, min-p over the sorted processed logits
  // Top-k and top-p need the whole order; min-p alone is a threshold (then only its survivors are sorted).
  const ordered = (p.topK > 0 && p.topK < vocab) || p.topP < 1;
  const order = ordered ? sortedIds(x) : [];
  let kept = !ordered ? Array.from({ length: vocab }, (_, i) => i) : p.topK > 0 && p.topK < vocab ? order.slice(0, p.topK) : order;
  const rel = (id: number): number => ((x[id] as number) - max) / p.temperature;
  const weight = (id: number): number => Math.exp(rel(id));
  let cutMargin = Infinity;
  if (p.topP < 1) {
    const z = kept.reduce((s, id) => s + weight(id), 0);
    const target = p.topP * z;
    let before = 0;
    let n = 0;
    for (; n < kept.length; n++) {
      cutMargin = Math.min(cutMargin, Math.abs(before - target) / z);
      if (!(before < target)) break;
      before += weight(kept[n] as number);
    }
    kept = kept.slice(0, n);
  }
  if (p.minP > 0) {
    const logMinP = Math.log(p.minP);
    for (const id of kept) cutMargin = Math.min(cutMargin, Math.abs(rel(id) - logMinP));
    kept = kept.filter((id) => weight(id) >= p.minP);
  }
  if (!ordered) kept = sortedIds(x, kept);
  const keptWeights = kept.map(weight);
  const total = keptWeights.reduce((s, w) => s + w, 0);
  // The kept set is a prefix of the order, so the best dropped token is the next one in it.
  let droppedId: number | null = null;
  if (ordered) {
    droppedId = kept.length < vocab ? (order[kept.length] as number) : null;
  } else {
    const keptSet = new Set(kept);
    for (let i = 0; i < vocab; i++) {
      if (!keptSet.has(i) && (droppedId === null || (x[i] as number) > (x[droppedId] as number))) droppedId = i;
    }
  }
  return {
    ...base, greedy: false, keptIds: kept, keptProbs: keptWeights.map((w) => w / total), keptWeights, droppedId,
    droppedWeight: droppedId === null ? 0 : weight(droppedId), cutMargin,
  };
}

export interface RaceResult {
  tokenId: number;
  /** best score / second best - 1 (Infinity with one candidate): how far the draw is from a tie. */
  margin: number;
}

/**
 * Step 10: the exponential race over the kept tokens for (seed, counter). withDropped: race as if the
 * best dropped token had been kept too (to find draws that would expose a filter keeping too much).
 */
export function race(row: ProcessedRow, seed: number, counter: number, withDropped = false): RaceResult {
  const ids = withDropped && row.droppedId !== null ? [...row.keptIds, row.droppedId] : row.keptIds;
  const weights = withDropped && row.droppedId !== null ? [...row.keptWeights, row.droppedWeight] : row.keptWeights;
  if (ids.length === 1) return { tokenId: ids[0] as number, margin: Infinity };
  const key = rowKey(seed, counter);
  let best = -1, second = -1, bestId = -1;
  ids.forEach((id, i) => {
    const score = (weights[i] as number) / exponentialFromBits(tokenBits(key, id));
    if (score > best || (score === best && id < bestId)) {
      second = best;
      best = score;
      bestId = id;
    } else if (score > second) {
      second = score;
    }
  });
  return { tokenId: bestId, margin: second > 0 ? best / second - 1 : Infinity };
}

/**
 * Counters (from 0, at most `limit` tried) whose race picks `target` (the last kept token, or the
 * dropped one with withDropped), up to `want` of them. A quick check against the best few kept tokens
 * skips most counters before the full race.
 */
export function findCounters(row: ProcessedRow, seed: number, target: 'last' | 'dropped', want: number, limit: number): number[] {
  const withDropped = target === 'dropped';
  const id = withDropped ? row.droppedId : (row.keptIds[row.keptIds.length - 1] as number);
  if (id === null || row.greedy) return [];
  const w = withDropped ? row.droppedWeight : (row.keptWeights[row.keptWeights.length - 1] as number);
  const rivals = row.keptIds.slice(0, 8).filter((r) => r !== id);
  const found: number[] = [];
  for (let c = 0; c < limit && found.length < want; c++) {
    const key = rowKey(seed, c);
    const score = w / exponentialFromBits(tokenBits(key, id));
    const beaten = rivals.some((r) => (row.keptWeights[row.keptIds.indexOf(r)] as number) / exponentialFromBits(tokenBits(key, r)) >= score);
    if (beaten) continue;
    const r = race(row, seed, c, withDropped);
    if (r.tokenId === id && r.margin > 1e-4) found.push(c);
  }
  return found;
}

/** Whole pipeline for one row: chosen token and its raw logprob. */
export function sampleRef(input: SampleRefInput): RaceResult & { logprob: number; row: ProcessedRow } {
  const row = processRow(input);
  const drawn = race(row, input.params.seed, input.params.counter);
  return { ...drawn, logprob: row.rawLogprobs[drawn.tokenId] as number, row };
}
