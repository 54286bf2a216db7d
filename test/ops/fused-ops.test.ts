// The CPU backend's fused ops (native/core/backend_ops.h) on every ISA variant: each gives exactly,
// bit for bit, what the separate ops it replaces give (so fusing never changes a model's tokens), and
// agrees with the naive references of those ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DType } from '../../lib/model/types.js';
import { addon, ISAS, randomF32, rng } from '../helpers/native.js';
import { kvCacheWriteRef, kvElemBytes, readKv, type KvDtype } from './reference/kv-cache-write.js';
import { dequantizeWeights, matmulRef, randomWeights } from './reference/matmul.js';
import { rmsNormRef } from './reference/rms-norm.js';
import { ropeRef } from './reference/rope.js';
import { siluMulRef } from './reference/silu-mul.js';

const NAMES: Record<DType, string> = {
  [DType.F32]: 'F32', [DType.F16]: 'F16', [DType.BF16]: 'BF16', [DType.Q8_0]: 'Q8_0', [DType.Q4_0]: 'Q4_0', [DType.Q4_K]: 'Q4_K', [DType.Q6_K]: 'Q6_K',
};
const DTYPES = [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];
// k: 256 and 768 (every block size), and 100 for float weights (a row that is not whole vectors).
// m: one row, a few, and past the size where the input conversion is split over the threads.
const SHAPES: Array<[m: number, k: number]> = [[1, 256], [5, 768], [90, 768], [3, 100]];

function bitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ub.length; i++) {
    if (ua[i] !== ub[i]) assert.fail(`${what}: element ${i} differs: ${a[i]} fused, ${b[i]} separate`);
  }
}

/** max |a - b| / (max |b| over the row set + 1e-30): a tolerance on the output's scale. */
function scaledError(a: Float32Array, b: ArrayLike<number>): number {
  let worst = 0, scale = 1e-30;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / scale);
  return worst;
}

// Quantizing a row whose values moved by an ulp can move a quant by one step: the reference check is
// loose for the types that round their input; the fused-versus-separate check is exact for all.
const REF_TOL: Record<DType, number> = {
  [DType.F32]: 1e-5, [DType.F16]: 5e-3, [DType.BF16]: 3e-2, [DType.Q8_0]: 3e-2, [DType.Q4_0]: 3e-2, [DType.Q4_K]: 3e-2, [DType.Q6_K]: 3e-2,
};

for (const dtype of DTYPES) {
  test(`add_rms_norm_matmuls and silu_mul_matmul ${NAMES[dtype]}: fused equals the separate ops bit for bit on every ISA`, async (t) => {
    const random = rng(700 + dtype);
    const block = dtype === DType.Q4_K || dtype === DType.Q6_K ? 256 : dtype >= DType.Q8_0 ? 32 : 1;
    const shapes = SHAPES.filter(([, k]) => k % block === 0);
    const ns = [48, 16, 16]; // q, k, v
    for (const isa of ISAS) {
      await t.test(isa, () => {
        for (const [m, k] of shapes) {
          const weights = ns.map((n) => randomWeights(dtype, n, k, random));
          const normWeight = randomF32(k, random, 2);
          const x0 = randomF32(m * k, random, 3);
          const add = randomF32(m * k, random, 3);
          const down = randomWeights(dtype, 24, k, random);
          const gate0 = randomF32(m * k, random, 4);
          const up = randomF32(m * k, random, 2);
          for (const packed of [false, true]) {
            for (const threads of [1, 2]) {
              const what = `${isa} m=${m} k=${k} packed=${packed} threads=${threads}`;
              for (const withAdd of [true, false]) {
                const run = (fused: boolean) => {
                  const x = Float32Array.from(x0);
                  const outs = ns.map((n) => new Float32Array(m * n).fill(NaN));
                  addon.ops.fusedAddRmsNormMatmuls(isa, fused, x, withAdd ? add : null, normWeight, 1e-5, outs, weights, dtype, ns, k, m, threads, packed);
                  return { x, outs };
                };
                const fused = run(true), separate = run(false);
                bitsEqual(fused.x, separate.x, `${what} add=${withAdd}: residual`);
                fused.outs.forEach((o, i) => bitsEqual(o, separate.outs[i] as Float32Array, `${what} add=${withAdd}: output ${i}`));
                if (packed || threads !== 1) continue;
                // The reference: x + add in f32, rms_norm, then each weight's product.
                const xRef = withAdd ? x0.map((v, i) => v + (add[i] as number)) : x0;
                bitsEqual(fused.x, xRef, `${what}: residual against x + add`);
                const normed = rmsNormRef(xRef, normWeight, m, k, 1e-5);
                ns.forEach((n, i) => {
                  const w = weights[i] as Uint8Array;
                  const ref = matmulRef(dtype, w, n, k, normed, m, null, dequantizeWeights(dtype, w, n, k));
                  const err = scaledError(fused.outs[i] as Float32Array, ref);
                  assert.ok(err < REF_TOL[dtype], `${what} add=${withAdd}: output ${i} error ${err} against the reference`);
                });
              }
              const runSilu = (fused: boolean) => {
                const out = new Float32Array(m * 24).fill(NaN);
                addon.ops.fusedSiluMulMatmul(isa, fused, out, Float32Array.from(gate0), up, down, dtype, 24, k, m, threads, packed);
                return out;
              };
              const fusedOut = runSilu(true);
              bitsEqual(fusedOut, runSilu(false), `${what}: silu_mul_matmul`);
              if (packed || threads !== 1) continue;
              const act = Float32Array.from(siluMulRef(gate0, up));
              const ref = matmulRef(dtype, down, 24, k, act, m, null, dequantizeWeights(dtype, down, 24, k));
              const err = scaledError(fusedOut, ref);
              assert.ok(err < REF_TOL[dtype], `${what}: silu_mul_matmul error ${err} against the reference`);
            }
          }
        }
      });
    }
  });
}

test('add_rms_norm_matmuls over weights of two types (as in Q4_K_M files) equals the separate ops', () => {
  // No shared conversion of x: the CPU backend stores the norm and converts it once per weight.
  const random = rng(91);
  const m = 4, k = 256, ns = [32, 16];
  const weights = [randomWeights(DType.Q4_K, 32, k, random), randomWeights(DType.Q6_K, 16, k, random)];
  const x0 = randomF32(m * k, random, 3), add = randomF32(m * k, random), nw = randomF32(k, random, 2);
  for (const isa of ISAS) {
    for (const packed of [false, true]) {
      const run = (fused: boolean) => {
        const x = Float32Array.from(x0), outs = ns.map((n) => new Float32Array(m * n).fill(NaN));
        addon.ops.fusedAddRmsNormMatmuls(isa, fused, x, add, nw, 1e-6, outs, weights, [DType.Q4_K, DType.Q6_K], ns, k, m, 2, packed);
        return { x, outs };
      };
      const f = run(true), s = run(false);
      bitsEqual(f.x, s.x, `${isa} packed=${packed}: residual`);
      f.outs.forEach((o, i) => bitsEqual(o, s.outs[i] as Float32Array, `${isa} packed=${packed}: output ${i}`));
      assert.ok(f.outs.every((o) => o.every(Number.isFinite)), 'every output written');
    }
  }
});

for (const kvDtype of [DType.F32, DType.F16, DType.BF16] as KvDtype[]) {
  test(`rope_kv_cache_write (${NAMES[kvDtype]} cache): fused equals rope, rope, kv_cache_write bit for bit on every ISA`, async (t) => {
    const random = rng(300 + kvDtype);
    for (const isa of ISAS) {
      await t.test(isa, () => {
        // Grouped heads (8 q over 2 kv), both rope layouts, partial rotary dims, a skipped slot, and a
        // prefill long enough to be split over the threads.
        for (const [nTokens, nHeads, nKvHeads, headDim, ropeDim, layout] of [
          [1, 4, 4, 64, 64, 0], [7, 8, 2, 64, 32, 1], [300, 8, 2, 32, 32, 0], [5, 2, 1, 48, 16, 1],
        ] as Array<[number, number, number, number, number, 0 | 1]>) {
          const blockSize = 16, numBlocks = Math.ceil(nTokens / blockSize) + 2;
          const q0 = randomF32(nTokens * nHeads * headDim, random, 2);
          const k0 = randomF32(nTokens * nKvHeads * headDim, random, 2);
          const v = randomF32(nTokens * nKvHeads * headDim, random, 2);
          const positions = Int32Array.from({ length: nTokens }, (_, i) => 3 * i + 1);
          const invFreq = Float32Array.from({ length: ropeDim / 2 }, (_, i) => 10000 ** (-(2 * i) / ropeDim));
          // Distinct slots in a shuffled order, one token skipped.
          const slots = Array.from({ length: numBlocks * blockSize }, (_, i) => i);
          for (let i = slots.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [slots[i], slots[j]] = [slots[j] as number, slots[i] as number];
          }
          const slotMapping = Int32Array.from({ length: nTokens }, (_, i) => (i === 2 ? -1 : (slots[i] as number)));
          const cacheBytes = numBlocks * nKvHeads * blockSize * headDim * kvElemBytes(kvDtype);
          for (const threads of [1, 2]) {
            const run = (fused: boolean) => {
              const q = Float32Array.from(q0), k = Float32Array.from(k0);
              const kCache = new Uint8Array(cacheBytes), vCache = new Uint8Array(cacheBytes);
              addon.ops.fusedRopeKvCacheWrite(isa, fused, q, k, v, nTokens, nHeads, nKvHeads, headDim, ropeDim, positions, invFreq, 1, layout,
                kCache, vCache, kvDtype, numBlocks, slotMapping, blockSize, threads);
              return { q, kCache, vCache };
            };
            const what = `${isa} tokens=${nTokens} heads=${nHeads}/${nKvHeads} dim=${headDim}/${ropeDim} layout=${layout} threads=${threads}`;
            const f = run(true), s = run(false);
            bitsEqual(f.q, s.q, `${what}: q`);
            assert.deepEqual(f.kCache, s.kCache, `${what}: K cache`);
            assert.deepEqual(f.vCache, s.vCache, `${what}: V cache`);
            if (threads !== 1) continue;
            // Against the references: rotated q, and the cache the reference writer fills with rotated k.
            assert.ok(scaledError(f.q, ropeRef(q0, nTokens, nHeads, headDim, ropeDim, positions, invFreq, 1, layout)) < 1e-5, `${what}: q vs reference`);
            const kRef = new Uint8Array(cacheBytes), vRef = new Uint8Array(cacheBytes);
            kvCacheWriteRef(kRef, vRef, kvDtype, ropeRef(k0, nTokens, nKvHeads, headDim, ropeDim, positions, invFreq, 1, layout), v, slotMapping, nTokens, nKvHeads, headDim, blockSize);
            assert.deepEqual(f.vCache, vRef, `${what}: V cache vs reference`);
            const toF32 = (c: Uint8Array) => Float32Array.from({ length: cacheBytes / kvElemBytes(kvDtype) }, (_, i) => readKv(c, kvDtype, i));
            assert.ok(scaledError(toF32(f.kCache), toF32(kRef)) < (kvDtype === DType.BF16 ? 1e-2 : 1e-3), `${what}: K cache vs reference`);
          }
        }
      });
    }
  });
}

test('fusedRopeKvCacheWrite refuses two tokens with one slot, naming the field', () => {
  const isa = ISAS[0] as (typeof ISAS)[number];
  const q = new Float32Array(2 * 64), k = new Float32Array(2 * 64), v = new Float32Array(2 * 64);
  const cache = new Uint8Array(2 * 16 * 64 * 4);
  assert.throws(
    () => addon.ops.fusedRopeKvCacheWrite(isa, true, q, k, v, 2, 1, 1, 64, 64, new Int32Array([0, 1]), new Float32Array(32), 1, 0, cache, Uint8Array.from(cache), DType.F32, 2, new Int32Array([5, 5]), 16, 1),
    /slotMapping\[1\]: expected -1 or a distinct slot in \[0, 32\), got 5/,
  );
});
