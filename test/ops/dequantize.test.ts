import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DType } from '../../lib/model/types.js';
import { addon, ISAS, rng } from '../helpers/native.js';
import { randomRow } from '../helpers/quant-rows.js';
import { BLOCK_ELEMS, dequantizeRowRef } from './reference/dequantize.js';

const ALL: DType[] = [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];

function assertBitExact(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < e.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: element ${i} is ${actual[i]} (0x${a[i]?.toString(16)}), expected ${expected[i]} (0x${e[i]?.toString(16)})`);
  }
}

function sizesFor(dtype: DType): number[] {
  const b = BLOCK_ELEMS[dtype];
  return b === 1 ? [1, 7, 16, 17, 172, 4099] : [b, 2 * b, 3 * b, 17 * b];
}

for (const isa of ISAS) {
  test(`dequantize ${isa}: every dtype is bit-exact to the reference`, () => {
    const random = rng(7);
    for (const dtype of ALL) {
      for (const n of sizesFor(dtype)) {
        const row = randomRow(dtype, n, random);
        const out = new Float32Array(n);
        addon.ops.dequantizeRow(isa, out, row, dtype, n);
        assertBitExact(out, dequantizeRowRef(row, dtype, n), `${DType[dtype]} n=${n}`);
      }
    }
  });

  test(`dequantize ${isa}: every non-NaN f16 converts exactly`, () => {
    const halves = Uint16Array.from({ length: 65536 }, (_, h) => ((h & 0x7c00) === 0x7c00 && h & 0x3ff ? h & 0xfc00 : h));
    const row = new Uint8Array(halves.buffer);
    const out = new Float32Array(65536);
    addon.ops.dequantizeRow(isa, out, row, DType.F16, 65536);
    assertBitExact(out, dequantizeRowRef(row, DType.F16, 65536), 'all halves');
  });

  test(`dequantize ${isa}: rows at odd byte offsets`, () => {
    const random = rng(8);
    for (const dtype of ALL) {
      const n = BLOCK_ELEMS[dtype] === 1 ? 99 : 2 * BLOCK_ELEMS[dtype];
      const row = randomRow(dtype, n, random);
      const shifted = new Uint8Array(row.length + 3);
      shifted.set(row, 3);
      const out = new Float32Array(n);
      addon.ops.dequantizeRow(isa, out, shifted.subarray(3), dtype, n);
      assertBitExact(out, dequantizeRowRef(row, dtype, n), `${DType[dtype]} at offset 3`);
    }
  });

  test(`dequantize ${isa}: hand-computed values`, () => {
    // Q4_0, d = 1: byte 0x98 -> element 0 = 8 - 8 = 0, element 16 = 9 - 8 = 1; byte 0x0f -> 7, -8.
    const q40 = new Uint8Array(18);
    new DataView(q40.buffer).setUint16(0, 0x3c00, true);
    q40[2] = 0x98;
    q40[3] = 0x0f;
    const o40 = new Float32Array(32);
    addon.ops.dequantizeRow(isa, o40, q40, DType.Q4_0, 32);
    assert.deepEqual([o40[0], o40[16], o40[1], o40[17]], [0, 1, 7, -8]);

    // Q4_K, d = 1, dmin = 0.5. Sub-block 0: sc 3, m 5. Sub-block 4 takes the top bits of scales[0]
    // and scales[4]: sc = 2 | 1 << 4 = 18, m = 7 | 2 << 4 = 39.
    const q4k = new Uint8Array(144);
    const v4k = new DataView(q4k.buffer);
    v4k.setUint16(0, 0x3c00, true);
    v4k.setUint16(2, 0x3800, true);
    q4k[4] = 0b01_000011;
    q4k[8] = 0b10_000101;
    q4k[12] = 0x72;
    q4k[16] = 0x07; // element 0 (sub-block 0, low nibble) = 3 * 7 - 2.5
    q4k[16 + 64] = 0x0a; // element 128 (sub-block 4, low nibble) = 18 * 10 - 19.5
    const o4k = new Float32Array(256);
    addon.ops.dequantizeRow(isa, o4k, q4k, DType.Q4_K, 256);
    assert.deepEqual([o4k[0], o4k[128], o4k[129]], [18.5, 160.5, -19.5]);

    // Q6_K, d = 0.5, scales[0] = 3, scales[2] = -2. Element 0: ql low 1 | qh bits 0-1 = 1 -> 17 - 32 = -15.
    // Element 32: ql[32] low 5 | qh bits 2-3 = 2 -> 37 - 32 = 5, times 0.5 * -2.
    const q6k = new Uint8Array(210);
    const v6k = new DataView(q6k.buffer);
    v6k.setUint16(208, 0x3800, true);
    v6k.setInt8(192, 3);
    v6k.setInt8(194, -2);
    q6k[0] = 0x21;
    q6k[32] = 0x05;
    q6k[128] = 0b1001;
    const o6k = new Float32Array(256);
    addon.ops.dequantizeRow(isa, o6k, q6k, DType.Q6_K, 256);
    assert.deepEqual([o6k[0], o6k[32]], [-22.5, -5]);
  });
}

test('dequantizeRow rejects bad sizes, dtypes and short rows without crashing', () => {
  const out = new Float32Array(512);
  const row = new Uint8Array(1024);
  assert.throws(() => addon.ops.dequantizeRow('portable', out, row, DType.Q4_K, 100), /n: expected a multiple of 256 for Q4_K, got 100/);
  assert.throws(() => addon.ops.dequantizeRow('portable', out, row, 7, 32), /dtype: expected an integer in \[0, 6\]/);
  assert.throws(() => addon.ops.dequantizeRow('portable', out, row.subarray(0, 100), DType.Q8_0, 128), /row: expected at least 136/);
  assert.throws(() => addon.ops.dequantizeRow('portable', out.subarray(0, 10), row, DType.F16, 11), /out: expected at least 11/);
  assert.throws(() => addon.ops.dequantizeRow('portable', out, new Int8Array(64) as never, DType.Q8_0, 32), /row: expected Uint8Array/);
});
