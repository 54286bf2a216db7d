import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DType } from '../../lib/model/types.js';
import { addon, ISAS, rng } from '../helpers/native.js';
import { randomRow } from '../helpers/quant-rows.js';
import { rowBytes } from './reference/dequantize.js';
import { embeddingRef } from './reference/embedding.js';

const CASES: Array<[dtype: DType, dim: number]> = [
  [DType.F32, 172], [DType.F16, 4099], [DType.BF16, 1], [DType.Q8_0, 96], [DType.Q4_0, 64], [DType.Q4_K, 512], [DType.Q6_K, 256],
];

for (const isa of ISAS) {
  test(`embedding ${isa} gathers dequantized rows for every dtype`, () => {
    const random = rng(11);
    const vocab = 9;
    for (const [dtype, dim] of CASES) {
      const table = randomRow(dtype, vocab * dim, random); // vocab rows back to back
      assert.equal(table.length, vocab * rowBytes(dtype, dim));
      const ids = Int32Array.from([0, 8, 3, 3, 5, 0, 1]);
      const out = new Float32Array(ids.length * dim);
      addon.ops.embedding(isa, out, table, dtype, vocab, dim, ids);
      const expected = embeddingRef(table, dtype, dim, ids);
      assert.deepEqual(new Uint32Array(out.buffer), new Uint32Array(expected.buffer), `${DType[dtype]} dim=${dim}`);
    }
  });
}

test('embedding with no ids writes nothing', () => {
  const out = new Float32Array(4).fill(7);
  addon.ops.embedding('portable', out, new Uint8Array(16), DType.F32, 1, 4, new Int32Array(0));
  assert.deepEqual(Array.from(out), [7, 7, 7, 7]);
});

test('embedding binding rejects out-of-range ids and short tables without crashing', () => {
  const table = new Uint8Array(4 * 64 * 4);
  const out = new Float32Array(2 * 64);
  assert.throws(() => addon.ops.embedding('portable', out, table, DType.F32, 4, 64, Int32Array.from([0, 4])), /ids\[1\]: expected a token id in \[0, 4\), got 4/);
  assert.throws(() => addon.ops.embedding('portable', out, table, DType.F32, 4, 64, Int32Array.from([-1])), /ids\[0\].*got -1/);
  assert.throws(() => addon.ops.embedding('portable', out, table, DType.F32, 5, 64, Int32Array.from([0])), /table: expected at least 1280/);
  assert.throws(() => addon.ops.embedding('portable', out, table, DType.Q4_K, 4, 64, Int32Array.from([0])), /dim: expected a multiple of 256/);
  assert.throws(() => addon.ops.embedding('portable', new Float32Array(64), table, DType.F32, 4, 64, Int32Array.from([0, 1])), /out: expected at least 128/);
});
