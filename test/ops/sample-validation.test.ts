// sample op: argument validation (bad input throws, never crashes), degenerate rows, and the TS packer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon, ISAS } from '../helpers/native.js';
import { sampleNative } from '../helpers/sample.js';
import {
  packSampleParams, SAMPLE_PARAMS_STRIDE, SampleParamsOffset, type SampleRowParams,
} from '../../lib/runner/sample-params-packing.js';

const VOCAB = 10;

interface Call {
  maxLogprobs?: number;
  rows?: number;
  vocab?: number;
  logits?: Float32Array;
  params?: Float64Array;
  history?: Int32Array;
  biasIds?: Int32Array;
  biasValues?: Float32Array;
  threads?: number;
  outIds?: Int32Array;
  outTopIds?: Int32Array;
}

/** One call with valid defaults (2 rows), any argument replaced. */
function call(c: Call = {}, row: Partial<SampleRowParams> = {}): Int32Array {
  const rows = c.rows ?? 2;
  const vocab = c.vocab ?? VOCAB;
  const maxLogprobs = c.maxLogprobs ?? 2;
  const outIds = c.outIds ?? new Int32Array(rows);
  addon.ops.sample(
    'portable', outIds, new Float32Array(rows), c.outTopIds ?? new Int32Array(rows * maxLogprobs),
    new Float32Array(rows * maxLogprobs), maxLogprobs, c.logits ?? new Float32Array(rows * vocab).fill(0.5), rows, vocab,
    c.params ?? packSampleParams(Array.from({ length: rows }, () => ({ numPromptHistory: 2, numBias: 1, ...row }))),
    c.history ?? Int32Array.from([1, 2, 3]), c.biasIds ?? Int32Array.from([4, 5]), c.biasValues ?? Float32Array.from([1, -2]),
    c.threads ?? 1,
  );
  return outIds;
}

/** A packed row with one raw field value (bypassing the packer's own checks). */
function rawParams(field: keyof typeof SampleParamsOffset, value: number): Float64Array {
  const params = packSampleParams([{}, {}]);
  params[SAMPLE_PARAMS_STRIDE + SampleParamsOffset[field]] = value;
  return params;
}

test('sample binding: a valid call works (the baseline of the cases below)', () => {
  assert.equal(call().length, 2);
});

test('sample binding rejects bad arrays, counts and ISA names', () => {
  assert.throws(() => call({ logits: new Float32Array(19) }), /logits: expected at least 20 elements/);
  assert.throws(() => call({ params: new Float64Array(29) }), /params: expected at least 30 elements/);
  assert.throws(() => call({ params: new Float32Array(30) as unknown as Float64Array }), /params: expected Float64Array/);
  assert.throws(() => call({ outIds: new Int32Array(1) }), /outTokenIds: expected at least 2/);
  assert.throws(() => call({ outTopIds: new Int32Array(3) }), /outTopIds: expected at least 4/);
  assert.throws(() => call({ history: new Float32Array(3) as unknown as Int32Array }), /history: expected Int32Array/);
  assert.throws(() => call({ maxLogprobs: 21 }), /maxLogprobs: expected an integer in \[0, 20\]/);
  assert.throws(() => call({ vocab: 0 }), /vocab/);
  assert.throws(() => call({ threads: 0 }), /threads/);
  const x = new Float32Array(4);
  const none = new Int32Array(0);
  assert.throws(
    () => addon.ops.sample('portable', none, x, none, x, 0, x, -1, 4, new Float64Array(0), none, none, x, 1),
    /rows: expected an integer in \[0, /,
  );
  assert.throws(
    () => addon.ops.sample('sse9' as never, new Int32Array(1), x, new Int32Array(0), x, 0, x, 1, 4, packSampleParams([{}]), new Int32Array(0), new Int32Array(0), x, 1),
    /isa: expected/,
  );
});

test('sample binding rejects out-of-range parameters, naming row and field', () => {
  const cases: Array<[keyof typeof SampleParamsOffset, number, RegExp]> = [
    ['temperature', NaN, /row 1\]\.temperature: expected a finite number, got nan/],
    ['temperature', Infinity, /temperature/],
    ['topK', 1.5, /top_k/],
    ['topP', 0, /top_p: expected a number in \(0, 1\], got 0/],
    ['topP', 1.01, /top_p/],
    ['minP', -0.1, /min_p/],
    ['minP', 2, /min_p/],
    ['repetitionPenalty', 0, /repetition_penalty/],
    ['presencePenalty', NaN, /presence_penalty/],
    ['frequencyPenalty', -Infinity, /frequency_penalty/],
    ['seed', -1, /seed: expected an integer in \[0, 2\^53\)/],
    ['seed', 2 ** 53, /seed/],
    ['seed', 0.5, /seed/],
    ['counter', -3, /counter/],
    ['numLogprobs', 3, /num_logprobs: expected an integer in \[0, maxLogprobs = 2\]/],
    ['historyStart', 4, /history_start/],
    ['numPromptHistory', 4, /history_start \+ counts <= history.length = 3/],
    ['numOutputHistory', -1, /num_output_history/],
    ['biasStart', 3, /bias_start/],
    ['numBias', 3, /bias_start \+ num_bias <= bias array length = 2/],
  ];
  for (const [field, value, pattern] of cases) {
    assert.throws(() => call({ params: rawParams(field, value) }), pattern, `${field} = ${value}`);
  }
});

test('sample binding rejects token ids outside the vocab and NaN / +inf bias values', () => {
  assert.throws(() => call({ history: Int32Array.from([1, 10, 3]) }), /history\[1\] \(row 0\): expected a token id in \[0, 10\), got 10/);
  assert.throws(() => call({ history: Int32Array.from([-1, 2, 3]) }), /history\[0\]/);
  assert.throws(() => call({ biasIds: Int32Array.from([4, 99]) }, { biasStart: 1 }), /biasTokenIds\[1\] \(row 0\)/);
  assert.throws(() => call({ biasValues: Float32Array.from([NaN, 0]) }), /biasValues\[0\] \(row 0\): expected a finite number or -Infinity/);
  assert.throws(() => call({ biasValues: Float32Array.from([Infinity, 0]) }), /biasValues\[0\]/);
  // Ranges that are not read are not checked: history beyond the rows' ranges may hold anything.
  assert.equal(call({ history: Int32Array.from([1, 2, 3, -7]) }).length, 2);
});

test('packSampleParams: field order, defaults, and seed / counter checks', () => {
  const packed = packSampleParams([{ temperature: 0.5, topK: 7, seed: 2 ** 53 - 1, counter: 9, numBias: 3 }, {}]);
  assert.equal(packed.length, 2 * SAMPLE_PARAMS_STRIDE);
  assert.deepEqual(Array.from(packed.slice(0, SAMPLE_PARAMS_STRIDE)), [0.5, 7, 1, 0, 1, 0, 0, 2 ** 53 - 1, 9, 0, 0, 0, 0, 0, 3]);
  assert.deepEqual(Array.from(packed.slice(SAMPLE_PARAMS_STRIDE)), [1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => packSampleParams([{ seed: 2 ** 53 }]), /rows\[0\]\.seed: expected an integer in \[0, 2\^53\)/);
  assert.throws(() => packSampleParams([{}, { counter: -1 }]), /rows\[1\]\.counter/);
  assert.throws(() => packSampleParams([{}], new Float64Array(3)), /out: expected/);
});

for (const isa of ISAS) {
  test(`sample ${isa}: degenerate rows never crash and stay in range`, () => {
    // rows = 0: nothing to do, nothing read.
    addon.ops.sample(isa, new Int32Array(0), new Float32Array(0), new Int32Array(0), new Float32Array(0), 0,
      new Float32Array(0), 0, 5, new Float64Array(0), new Int32Array(0), new Int32Array(0), new Float32Array(0), 2);
    // vocab = 1: always token 0 with logprob 0, top-n slots past the vocab are empty.
    const one = sampleNative(isa, 1, [{ logits: Float32Array.of(3), params: { topK: 5, topP: 0.1, numLogprobs: 3 } }]);
    assert.deepEqual([one.ids[0], one.logprobs[0], ...one.topIds], [0, 0, 0, -1, -1]);
    // NaN and +inf logits: NaN is never drawn, +inf behaves like the largest float.
    const weird = Float32Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? NaN : i === 20 ? Infinity : i / 10));
    const out = sampleNative(isa, 40, Array.from({ length: 30 }, (_, c) => ({ logits: weird, params: { counter: c, numLogprobs: 2 } })));
    assert.ok(out.ids.every((id) => id === 20), 'the +inf token dominates');
    assert.equal(out.topIds[0], 20);
    const nan = Float32Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? NaN : i / 10));
    const nanOut = sampleNative(isa, 40, Array.from({ length: 30 }, (_, c) => ({ logits: nan, params: { counter: c, minP: 0.5 } })));
    assert.ok(nanOut.ids.every((id) => id % 3 !== 0 && id < 40), 'NaN tokens are never drawn');
    // Every raw logit -inf: argmax rules pick token 0; there is no distribution, so logprobs are NaN.
    const dead = sampleNative(isa, 20, [{ logits: new Float32Array(20).fill(-Infinity), params: { numLogprobs: 1 } }]);
    assert.equal(dead.ids[0], 0);
    assert.ok(Number.isNaN(dead.logprobs[0]));
    // min_p = 1 keeps the maximum only (here a two-way tie); top_p tiny keeps the best token.
    const tie = Float32Array.from({ length: 33 }, (_, i) => (i === 4 || i === 31 ? 2 : 1.9));
    const minP = sampleNative(isa, 33, Array.from({ length: 40 }, (_, c) => ({ logits: tie, params: { counter: c, minP: 1 } })));
    assert.deepEqual(new Set(minP.ids), new Set([4, 31]));
    const topP = sampleNative(isa, 33, Array.from({ length: 10 }, (_, c) => ({ logits: tie, params: { counter: c, topP: 1e-9 } })));
    assert.ok(topP.ids.every((id) => id === 4));
    // Overflowing bias and penalties saturate instead of turning into inf - inf.
    const big = new Float32Array(16).fill(3e38);
    const sat = sampleNative(isa, 16, Array.from({ length: 20 }, (_, c) => ({
      logits: big, bias: [[5, 3e38], [5, 3e38]] as Array<[number, number]>, prompt: [6], params: { repetitionPenalty: 0.5, counter: c },
    })));
    assert.deepEqual(new Set(sat.ids), new Set([5, 6]), 'both saturate to FLT_MAX and tie for the draw');
    assert.ok(sat.logprobs.every((lp) => Math.abs(lp + Math.log(16)) < 1e-6), 'raw logprobs: uniform');
  });
}
