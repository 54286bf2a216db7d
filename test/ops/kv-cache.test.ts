// kv_cache_write on every ISA variant against the naive reference (bit-exact cache bytes), plus the
// reference's own f16/bf16 rounding against hand-checked values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DType } from '../../lib/model/types.js';
import { addon, ISAS, rng } from '../helpers/native.js';
import {
  type KvDtype, bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, kvCacheWriteRef, kvElemBytes, readKv,
} from './reference/kv-cache-write.js';

const DTYPES: KvDtype[] = [DType.F32, DType.F16, DType.BF16];

test('reference f16/bf16 rounding: ties to even, subnormals, overflow', () => {
  const f16: Array<[number, number]> = [
    [1, 0x3c00], [-2, 0xc000], [0, 0], [-0, 0x8000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01], [2 ** -24, 0x0001],
    [2 ** -25, 0], [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400], [1e-40, 0],
    [Infinity, 0x7c00], [-Infinity, 0xfc00], [0.1, 0x2e66], [3.4028234663852886e38, 0x7c00],
  ];
  for (const [x, bits] of f16) assert.equal(f32ToF16Bits(x), bits, `f16(${x})`);
  const bf16: Array<[number, number]> = [
    [1, 0x3f80], [-0, 0x8000], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [3.4028234663852886e38, 0x7f80], [2 ** -133, 0x0001], [2 ** -134, 0], [0.1, 0x3dcd], [-Infinity, 0xff80],
  ];
  for (const [x, bits] of bf16) assert.equal(f32ToBf16Bits(x), bits, `bf16(${x})`);
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN
    assert.equal(f32ToF16Bits(f16BitsToF32(h)), h, `f16 round trip ${h.toString(16)}`);
    if ((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0) continue;
    assert.equal(f32ToBf16Bits(bf16BitsToF32(h)), h, `bf16 round trip ${h.toString(16)}`);
  }
});

/** Values that exercise rounding: random magnitudes 2^-30 .. 2^18, exact ties, zeros, infinities. */
function trickyValues(n: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  const special = [0, -0, Infinity, -Infinity, 65504, 65520, -70000, 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11,
    1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1e-40, -3.4e38, 2 ** -14 - 2 ** -25];
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < 0.1) out[i] = special[Math.floor(random() * special.length)] as number;
    else out[i] = (random() < 0.5 ? -1 : 1) * 2 ** (random() * 48 - 30) * (1 + random());
  }
  return out;
}

function shuffled(n: number, random: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

const SHAPES: Array<{ nKvHeads: number; headDim: number; blockSize: number; numBlocks: number; nTokens: number }> = [
  { nKvHeads: 1, headDim: 1, blockSize: 1, numBlocks: 9, nTokens: 5 },
  { nKvHeads: 2, headDim: 3, blockSize: 16, numBlocks: 3, nTokens: 40 },
  { nKvHeads: 1, headDim: 16, blockSize: 32, numBlocks: 2, nTokens: 1 },
  { nKvHeads: 8, headDim: 17, blockSize: 1, numBlocks: 40, nTokens: 33 },
  { nKvHeads: 2, headDim: 64, blockSize: 16, numBlocks: 6, nTokens: 70 },
  { nKvHeads: 4, headDim: 128, blockSize: 32, numBlocks: 3, nTokens: 50 },
  { nKvHeads: 1, headDim: 172, blockSize: 16, numBlocks: 2, nTokens: 19 },
];

for (const isa of ISAS) {
  test(`kv_cache_write ${isa} stores the reference bits for f32/f16/bf16 at shuffled slots, skipping -1`, () => {
    const random = rng(11);
    for (const dtype of DTYPES) {
      for (const { nKvHeads, headDim, blockSize, numBlocks, nTokens } of SHAPES) {
        const bytes = numBlocks * nKvHeads * blockSize * headDim * kvElemBytes(dtype);
        const kCache = new Uint8Array(bytes);
        const vCache = new Uint8Array(bytes);
        for (let i = 0; i < bytes; i++) kCache[i] = Math.floor(random() * 256), vCache[i] = Math.floor(random() * 256);
        const slots = shuffled(numBlocks * blockSize, random);
        const slotMapping = new Int32Array(nTokens);
        for (let t = 0; t < nTokens; t++) slotMapping[t] = random() < 0.2 ? -1 : (slots[t] as number);
        const n = nTokens * nKvHeads * headDim;
        const k = trickyValues(n, random);
        const v = trickyValues(n, random);
        const kRef = kCache.slice();
        const vRef = vCache.slice();
        kvCacheWriteRef(kRef, vRef, dtype, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize);
        addon.ops.kvCacheWrite(isa, kCache, vCache, dtype, numBlocks, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize);
        const what = `dtype=${dtype} heads=${nKvHeads} dim=${headDim} block=${blockSize}`;
        assert.ok(Buffer.from(kCache).equals(Buffer.from(kRef)), `K cache differs: ${what}`);
        assert.ok(Buffer.from(vCache).equals(Buffer.from(vRef)), `V cache differs: ${what}`);
      }
    }
  });

  test(`kv_cache_write ${isa} keeps NaN as NaN and writes nothing for an all-padding step`, () => {
    for (const dtype of DTYPES) {
      const headDim = 37;
      const cache = () => new Uint8Array(2 * headDim * kvElemBytes(dtype));
      const kCache = cache();
      const vCache = cache();
      const k = new Float32Array(headDim).fill(NaN);
      const v = new Float32Array(headDim).fill(-NaN);
      addon.ops.kvCacheWrite(isa, kCache, vCache, dtype, 2, k, v, new Int32Array([1]), 1, 1, headDim, 1);
      for (let d = 0; d < headDim; d++) {
        assert.ok(Number.isNaN(readKv(kCache, dtype, headDim + d)), `dtype=${dtype} k[${d}]`);
        assert.ok(Number.isNaN(readKv(vCache, dtype, headDim + d)), `dtype=${dtype} v[${d}]`);
        assert.equal(readKv(kCache, dtype, d), 0); // slot 0 untouched
      }
      const before = kCache.slice();
      addon.ops.kvCacheWrite(isa, kCache, vCache, dtype, 2, k, v, new Int32Array([-1]), 1, 1, headDim, 1);
      assert.ok(Buffer.from(kCache).equals(Buffer.from(before)));
    }
  });
}

test('kv_cache_write binding rejects bad slots, short arrays, bad dtypes and misaligned caches', () => {
  const isa = ISAS[0] ?? 'portable';
  const f16Cache = () => new Uint8Array(2 * 2 * 4 * 8 * 2); // numBlocks 2, heads 2, block 4, dim 8, f16
  const k = new Float32Array(3 * 2 * 8);
  const call = (over: { slots?: Int32Array; kCache?: Uint8Array; dtype?: number; k?: Float32Array }) =>
    addon.ops.kvCacheWrite(isa, over.kCache ?? f16Cache(), f16Cache(), (over.dtype ?? DType.F16) as DType, 2,
      over.k ?? k, k, over.slots ?? new Int32Array([0, -1, 7]), 3, 2, 8, 4);
  call({}); // valid
  assert.throws(() => call({ slots: new Int32Array([0, 8, 1]) }), /slotMapping\[1\]: expected -1 \(skip\) or a slot in \[0, 8\).*got 8/);
  assert.throws(() => call({ slots: new Int32Array([0, 1, -2]) }), /slotMapping\[2\].*got -2/);
  assert.throws(() => call({ slots: new Int32Array([0, 1]) }), /slotMapping: expected at least 3 elements/);
  assert.throws(() => call({ kCache: new Uint8Array(100) }), /kCache: expected at least 256 elements, got 100/);
  assert.throws(() => call({ k: new Float32Array(47) }), /k: expected at least 48 elements/);
  assert.throws(() => call({ dtype: DType.Q8_0 }), /kvDtype: expected 0 \(F32\), 1 \(F16\) or 2 \(BF16\)/);
  const misaligned = new Uint8Array(new ArrayBuffer(257), 1);
  assert.throws(() => call({ kCache: misaligned }), /kCache: data must be aligned to 2 bytes/);
  assert.throws(() => call({ kCache: new Float32Array(64) as unknown as Uint8Array }), /kCache: expected Uint8Array/);
});
