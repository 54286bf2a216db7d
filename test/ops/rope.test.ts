import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon, ISAS, maxRelError, randomF32, rng } from '../helpers/native.js';
import { llama3FreqFactorsRef, llama3InvFreqRef, ropeInvFreqRef, ropeRef, type Llama3Params } from './reference/rope.js';

// [nTokens, nHeads, headDim, ropeDim]: full and partial rotary, pair counts that are not multiples
// of the vector width, one token / one head, and headDim 512 (two cos/sin table chunks).
const SHAPES: Array<[number, number, number, number]> = [
  [1, 1, 16, 16], [3, 2, 16, 8], [5, 4, 64, 64], [2, 3, 64, 20], [4, 2, 128, 128], [2, 2, 128, 64],
  [1, 1, 2, 2], [3, 1, 172, 86], [2, 2, 512, 512],
];
const LLAMA31: Llama3Params = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };

function positionsFor(n: number, random: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, () => Math.floor(random() * 8193));
  p[0] = 0; // position 0 is the identity rotation
  if (n > 1) p[n - 1] = 8192;
  return p;
}

for (const isa of ISAS) {
  for (const layout of [0, 1] as const) {
    const name = layout === 0 ? 'norm' : 'neox';
    test(`rope ${isa} ${name} matches the reference; dims past ropeDim are untouched`, () => {
      const random = rng(21 + layout);
      for (const [nTokens, nHeads, headDim, ropeDim] of SHAPES) {
        for (const [scale, invFreq] of [
          [1, Float32Array.from(ropeInvFreqRef(ropeDim, 10000))],
          [0.25, Float32Array.from(llama3InvFreqRef(ropeDim, 500000, LLAMA31))],
        ] as const) {
          const x = randomF32(nTokens * nHeads * headDim, random, 2);
          const positions = positionsFor(nTokens, random);
          const expected = ropeRef(x, nTokens, nHeads, headDim, ropeDim, positions, invFreq, scale, layout);
          const out = Float32Array.from(x);
          addon.ops.rope(isa, out, nTokens, nHeads, headDim, ropeDim, positions, invFreq, scale, layout);
          const what = `shape ${nTokens}x${nHeads}x${headDim} rope ${ropeDim} scale ${scale}`;
          // |x| <= 2: a few float roundings of values <= 2 in magnitude.
          const err = maxRelError(out, expected, 1);
          assert.ok(err < 1e-6, `${what}: max error ${err}`);
          for (let r = 0; r < nTokens * nHeads; r++) {
            for (let i = ropeDim; i < headDim; i++) {
              if (!Object.is(out[r * headDim + i], x[r * headDim + i])) assert.fail(`${what}: element ${i} of row ${r} changed`);
            }
          }
          // Position 0 rotates by angle 0: exact identity.
          for (let i = 0; i < nHeads * headDim; i++) assert.equal(out[i], x[i], `${what}: position 0 moved element ${i}`);
        }
      }
    });
  }
}

test('rope norm and neox rotate different pairs', () => {
  // headDim 4: norm pairs (0,1),(2,3); neox pairs (0,2),(1,3). Angle pi/2 for pair 0 maps (a, b) -> (-b, a).
  const invFreq = Float32Array.from([Math.PI / 2, 0]);
  const round = (a: Float32Array) => Array.from(a, (v) => Math.round(v * 1e6) / 1e6 + 0);
  for (const isa of ISAS) {
    const norm = Float32Array.from([1, 2, 3, 4]);
    addon.ops.rope(isa, norm, 1, 1, 4, 4, Int32Array.from([1]), invFreq, 1, 0);
    const neox = Float32Array.from([1, 2, 3, 4]);
    addon.ops.rope(isa, neox, 1, 1, 4, 4, Int32Array.from([1]), invFreq, 1, 1);
    assert.deepEqual(round(norm), [-2, 1, 3, 4], isa);
    assert.deepEqual(round(neox), [-3, 2, 1, 4], isa);
  }
});

test('ropeInvFreq: default frequencies are theta^(-2i/d)', () => {
  for (const [dim, theta] of [[128, 10000], [64, 1000000], [2, 10000], [86, 500000]] as const) {
    const got = addon.ops.ropeInvFreq(dim, theta, null, null);
    assert.equal(got.length, dim / 2);
    assert.ok(maxRelError(got, ropeInvFreqRef(dim, theta), 0) < 1e-7, `dim ${dim} theta ${theta}`);
  }
});

test('ropeInvFreq: llama3 scaling matches HF _compute_llama3_parameters in all three bands', () => {
  for (const p of [LLAMA31, { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 }]) {
    const dim = 128, theta = 500000;
    const got = addon.ops.ropeInvFreq(dim, theta, null, p);
    const expected = llama3InvFreqRef(dim, theta, p);
    assert.ok(maxRelError(got, expected, 0) < 1e-7, `factor ${p.factor}: ${maxRelError(got, expected, 0)}`);
    const base = ropeInvFreqRef(dim, theta);
    const kept = base.filter((f, i) => f === expected[i]).length;
    const divided = base.filter((f, i) => Math.abs(f / p.factor - (expected[i] as number)) < 1e-12 * f).length;
    assert.ok(kept > 0 && divided > 0 && kept + divided < dim / 2, `bands: ${kept} kept, ${divided} divided`);
  }
});

test('ropeInvFreq: GGUF freq factors divide, and llama.cpp llama3 factors equal the llama3 formula', () => {
  const dim = 64, theta = 10000;
  const factors = Float32Array.from({ length: dim / 2 }, (_, i) => 1 + i / 8);
  const got = addon.ops.ropeInvFreq(dim, theta, factors, null);
  const expected = ropeInvFreqRef(dim, theta).map((f, i) => f / (factors[i] as number));
  assert.ok(maxRelError(got, expected, 0) < 1e-7);

  const ff = llama3FreqFactorsRef(128, 500000, LLAMA31);
  const viaFactors = addon.ops.ropeInvFreq(128, 500000, ff, null);
  const viaLlama3 = addon.ops.ropeInvFreq(128, 500000, null, LLAMA31);
  assert.ok(maxRelError(viaFactors, viaLlama3, 0) < 2e-7);
});

test('rope bindings reject bad shapes and parameters without crashing', () => {
  const x = new Float32Array(64);
  const pos = new Int32Array(2);
  const inv = new Float32Array(8);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 15, pos, inv, 1, 0), /ropeDim: expected an even number/);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 34, pos, inv, 1, 0), /ropeDim: expected an integer in \[0, 32\]/);
  assert.throws(() => addon.ops.rope('portable', x, 3, 1, 32, 16, pos, inv, 1, 0), /x: expected at least 96/);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 32, pos, inv, 1, 0), /invFreq: expected at least 16/);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 16, new Int32Array(1), inv, 1, 0), /positions: expected at least 2/);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 16, pos, inv, 1, 2 as never), /layout/);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 16, pos, inv, NaN, 0), /positionScale/);
  assert.throws(() => addon.ops.rope('portable', x, 2, 1, 32, 16, pos, inv, 1e39, 0), /positionScale: expected a finite float/);
  assert.throws(() => addon.ops.ropeInvFreq(7, 10000, null, null), /ropeDim: expected an even number/);
  assert.throws(() => addon.ops.ropeInvFreq(8, -1, null, null), /theta/);
  assert.throws(() => addon.ops.ropeInvFreq(8, 10000, new Float32Array(3), null), /freqFactors: expected at least 4/);
  assert.throws(() => addon.ops.ropeInvFreq(8, 10000, new Float32Array(4), null), /freqFactors\[0\]: expected a positive/);
  assert.throws(() => addon.ops.ropeInvFreq(8, 10000, null, { ...LLAMA31, highFreqFactor: 1 }), /lowFreqFactor < highFreqFactor/);
  assert.throws(() => addon.ops.ropeInvFreq(8, 10000, null, { factor: 8 } as never), /llama3.lowFreqFactor: expected a number/);
});
