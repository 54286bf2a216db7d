import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon, ISAS, randomF32, rng } from '../helpers/native.js';
import { addBiasRef, addRef } from './reference/add.js';

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const SIZES = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 172, 4099];
const SHAPES: Array<[rows: number, cols: number]> = [[1, 1], [3, 7], [2, 16], [4, 172], [5, 4099], [64, 33]];

for (const isa of ISAS) {
  test(`add ${isa} is bit-exact, also in place`, () => {
    const random = rng(41);
    for (const n of SIZES) {
      const a = randomF32(n, random, 100);
      const b = randomF32(n, random, 1);
      const expected = addRef(a, b);
      const out = new Float32Array(n + 1).fill(42); // one guard element past the end
      addon.ops.add(isa, out, a, b, n);
      assert.deepEqual(bits(out.subarray(0, n)), bits(expected), `n=${n}`);
      assert.equal(out[n], 42, `n=${n}: wrote past the end`);
      addon.ops.add(isa, a, a, b, n); // residual: out aliases a
      assert.deepEqual(bits(a), bits(expected), `n=${n} in place`);
    }
  });

  test(`add_bias ${isa} is bit-exact on edge shapes`, () => {
    const random = rng(42);
    for (const [rows, cols] of SHAPES) {
      const x = randomF32(rows * cols, random, 10);
      const bias = randomF32(cols, random);
      const expected = addBiasRef(x, bias, rows, cols);
      addon.ops.addBias(isa, x, bias, rows, cols);
      assert.deepEqual(bits(x), bits(expected), `${rows}x${cols}`);
    }
  });
}

test('add bindings reject short arrays without crashing', () => {
  const a = new Float32Array(16);
  assert.throws(() => addon.ops.add('portable', a, a, new Float32Array(3), 16), /b: expected at least 16/);
  assert.throws(() => addon.ops.addBias('portable', a, new Float32Array(3), 2, 8), /bias: expected at least 8/);
  assert.throws(() => addon.ops.addBias('portable', a, a, 3, 8), /x: expected at least 24/);
  assert.throws(() => addon.ops.addBias('portable', a, a, 1, 0), /cols: expected an integer in \[1/);
});
