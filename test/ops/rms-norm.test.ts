import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon, ISAS, maxRelError, randomF32, rng } from '../helpers/native.js';
import { rmsNormRef } from './reference/rms-norm.js';

const SHAPES: Array<[rows: number, dim: number]> = [
  [1, 1], [1, 7], [3, 16], [2, 64], [5, 172], [4, 768], [1, 4099], [64, 16],
];

for (const isa of ISAS) {
  test(`rms_norm ${isa} matches the reference on edge shapes`, () => {
    const random = rng(1);
    for (const [rows, dim] of SHAPES) {
      const x = randomF32(rows * dim, random, 3);
      const w = randomF32(dim, random);
      const out = new Float32Array(rows * dim);
      addon.ops.rmsNorm(isa, out, x, w, rows, dim, 1e-5);
      const err = maxRelError(out, rmsNormRef(x, w, rows, dim, 1e-5), 1e-3);
      assert.ok(err < 1e-5, `rows=${rows} dim=${dim}: max rel error ${err}`);
    }
  });

  test(`rms_norm ${isa} works in place`, () => {
    const random = rng(2);
    const x = randomF32(3 * 172, random);
    const w = randomF32(172, random);
    const expected = rmsNormRef(x, w, 3, 172, 1e-6);
    addon.ops.rmsNorm(isa, x, x, w, 3, 172, 1e-6);
    assert.ok(maxRelError(x, expected, 1e-3) < 1e-5);
  });
}

test('rms_norm binding rejects short arrays and bad ISA names without crashing', () => {
  const x = new Float32Array(10);
  assert.throws(() => addon.ops.rmsNorm('portable', new Float32Array(5), x, x, 1, 10, 1e-5), /out: expected at least 10/);
  assert.throws(() => addon.ops.rmsNorm('sse9' as never, x, x, x, 1, 10, 1e-5), /isa: expected/);
  assert.throws(() => addon.ops.rmsNorm('portable', x, x, new Float32Array(3), 1, 10, 1e-5), /weight/);
});
