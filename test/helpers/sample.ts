// Harness for the sample op tests: rows described as objects, packed into one native call, and the
// matching reference rows.
import assert from 'node:assert/strict';
import type { IsaName } from '../../lib/native/types.js';
import { DEFAULT_SAMPLE_ROW_PARAMS, packSampleParams, type SampleRowParams } from '../../lib/runner/sample-params-packing.js';
import { processRow, race, type ProcessedRow } from '../ops/reference/sample.js';
import { addon } from './native.js';

export interface SampleRow {
  logits: Float32Array;
  params?: Partial<SampleRowParams>;
  prompt?: number[];
  output?: number[];
  bias?: Array<[tokenId: number, value: number]>;
}

export interface SampleOutput {
  ids: Int32Array;
  logprobs: Float32Array;
  topIds: Int32Array;
  topLogprobs: Float32Array;
  maxLogprobs: number;
}

/** Runs one native call over `rows` (logits are copied: the op modifies its input). */
export function sampleNative(
  isa: IsaName,
  vocab: number,
  rows: readonly SampleRow[],
  options: { threads?: number; maxLogprobs?: number } = {},
): SampleOutput {
  const maxLogprobs = options.maxLogprobs ?? rows.reduce((m, r) => Math.max(m, r.params?.numLogprobs ?? 0), 0);
  const logits = new Float32Array(rows.length * vocab);
  const history: number[] = [];
  const biasIds: number[] = [];
  const biasValues: number[] = [];
  const params = rows.map((row, r) => {
    assert.equal(row.logits.length, vocab);
    logits.set(row.logits, r * vocab);
    const historyStart = history.length;
    for (const t of [...(row.prompt ?? []), ...(row.output ?? [])]) history.push(t);
    const biasStart = biasIds.length;
    for (const [id, value] of row.bias ?? []) {
      biasIds.push(id);
      biasValues.push(value);
    }
    return {
      ...row.params,
      historyStart,
      numPromptHistory: row.prompt?.length ?? 0,
      numOutputHistory: row.output?.length ?? 0,
      biasStart,
      numBias: row.bias?.length ?? 0,
    };
  });
  const out: SampleOutput = {
    ids: new Int32Array(rows.length),
    logprobs: new Float32Array(rows.length),
    topIds: new Int32Array(rows.length * maxLogprobs),
    topLogprobs: new Float32Array(rows.length * maxLogprobs),
    maxLogprobs,
  };
  addon.ops.sample(
    isa, out.ids, out.logprobs, out.topIds, out.topLogprobs, maxLogprobs, logits, rows.length, vocab,
    packSampleParams(params), Int32Array.from(history), Int32Array.from(biasIds), Float32Array.from(biasValues),
    options.threads ?? 2,
  );
  return out;
}

export function fullParams(params: Partial<SampleRowParams> = {}): SampleRowParams {
  return { ...DEFAULT_SAMPLE_ROW_PARAMS, ...params };
}

export function referenceRow(row: SampleRow): ProcessedRow {
  return processRow({
    logits: row.logits,
    params: fullParams(row.params),
    prompt: row.prompt ?? [],
    output: row.output ?? [],
    bias: row.bias ?? [],
  });
}

/** `count` copies of a row with counters 0..count-1. */
export function withCounters(row: SampleRow, count: number, firstCounter = 0): SampleRow[] {
  return Array.from({ length: count }, (_, c) => ({ ...row, params: { ...row.params, counter: firstCounter + c } }));
}

/** Near-tie draws (best / second race score within this) are only checked for membership. */
export const RACE_MARGIN = 1e-4;
/**
 * Test rows must keep top-p / min-p decisions at least this far from their thresholds (relative mass
 * for top-p, log-probability for min-p); float rounding in the kernel moves them by < ~5e-7.
 */
export const CUT_MARGIN = 2e-6;

/** `row` once per counter. */
export function atCounters(row: SampleRow, counters: readonly number[]): SampleRow[] {
  return counters.map((counter) => ({ ...row, params: { ...row.params, counter } }));
}

/**
 * Checks native draws of one row (ids[i] drawn with counter counters[i], or firstCounter + i) against
 * the reference: every id is in the kept set, and equals the reference's draw unless that draw is a
 * near tie. Returns the number of exact comparisons made.
 */
export function assertDrawsMatch(
  label: string,
  ref: ProcessedRow,
  ids: ArrayLike<number>,
  seed: number,
  counters: number | readonly number[] = 0,
): number {
  const counterOf = (i: number): number => (typeof counters === 'number' ? counters + i : (counters[i] as number));
  assert.ok(ref.cutMargin > CUT_MARGIN, `${label}: test row too close to a top-p/min-p threshold (${ref.cutMargin})`);
  const kept = new Set(ref.keptIds);
  let exact = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    assert.ok(kept.has(id), `${label}: draw ${i} chose ${id}, outside the kept set of ${kept.size}`);
    const expected = race(ref, seed, counterOf(i));
    if (expected.margin > RACE_MARGIN) {
      assert.equal(id, expected.tokenId, `${label}: draw ${i} (counter ${counterOf(i)})`);
      exact++;
    }
  }
  assert.ok(exact >= ids.length * 0.97, `${label}: only ${exact} of ${ids.length} draws were clear of ties`);
  return exact;
}

/** Standard normal samples (Box-Muller) times scale, as logits. */
export function gaussianLogits(n: number, random: () => number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(random(), 1e-12), v = random();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** Peaked like an LM's logits: gaussian background plus a few strong tokens at random positions. */
export function lmLikeLogits(n: number, random: () => number): Float32Array {
  const out = gaussianLogits(n, random, 1.5);
  for (let j = 0; j < 12; j++) out[Math.floor(random() * n)] = 6 + 6 * random();
  return out;
}

/**
 * A top_p near `approx` halfway between two consecutive cumulative masses of the sorted softmax(x / T),
 * so that the nucleus boundary is as far from float noise as the row allows (flat rows over a big
 * vocab have every token within 1/vocab of the cut).
 */
export function centeredTopP(logits: Float32Array, temperature: number, approx: number): number {
  const sorted = Float64Array.from(logits).sort().reverse();
  const max = sorted[0] as number;
  const weights = sorted.map((v) => Math.exp((v - max) / temperature));
  const z = weights.reduce((s, w) => s + w, 0);
  let before = 0;
  for (const w of weights) {
    if (before + w >= approx * z) return (before + w / 2) / z;
    before += w;
  }
  return 1;
}

/** Upper chi-square critical value at p = 0.001 (Wilson-Hilferty). */
export function chiSquareCritical(df: number): number {
  const z = 3.0902;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
