import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon, ISAS, randomF32, rng } from '../helpers/native.js';
import { argmaxRowsRef } from './reference/argmax.js';

const COLS = [1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 172, 4099, 32007];

function run(isa: (typeof ISAS)[number], x: Float32Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  addon.ops.argmaxRows(isa, out, x, rows, cols);
  return out;
}

for (const isa of ISAS) {
  test(`argmax_rows ${isa} matches the reference on random rows`, () => {
    const random = rng(51);
    for (const cols of COLS) {
      const rows = 3;
      const x = randomF32(rows * cols, random, 30);
      assert.deepEqual(run(isa, x, rows, cols), argmaxRowsRef(x, rows, cols), `cols=${cols}`);
    }
  });

  test(`argmax_rows ${isa} picks the lowest index among ties`, () => {
    const random = rng(52);
    for (const cols of COLS) {
      // Few distinct values: the maximum repeats at many positions, across lanes and accumulators.
      const rows = 4;
      const x = Float32Array.from({ length: rows * cols }, () => Math.floor(random() * 6));
      assert.deepEqual(run(isa, x, rows, cols), argmaxRowsRef(x, rows, cols), `cols=${cols}`);
    }
    const cols = 4099;
    const x = new Float32Array(cols).fill(-1);
    for (const i of [4000, 3000, 77, 78, 4098]) x[i] = 5;
    assert.deepEqual(Array.from(run(isa, x, 1, cols)), [77]);
    x.fill(0.25); // every element ties: the first
    assert.deepEqual(Array.from(run(isa, x, 1, cols)), [0]);
    x[cols - 1] = 1; // the max is the very last element (scalar tail)
    assert.deepEqual(Array.from(run(isa, x, 1, cols)), [cols - 1]);
  });

  test(`argmax_rows ${isa} follows llama.cpp on NaN, infinities and signed zeros`, () => {
    for (const cols of [5, 64, 200]) {
      const cases: Array<[string, (x: Float32Array) => void]> = [
        ['NaN first -> 0', (x) => { x.fill(1); x[0] = NaN; x[cols - 2] = 9; }],
        ['NaN elsewhere is skipped', (x) => { x.fill(1); x[1] = NaN; x[cols - 2] = 9; x[cols - 1] = NaN; }],
        ['all -inf -> 0', (x) => x.fill(-Infinity)],
        ['+inf wins', (x) => { x.fill(3e38); x[cols - 3] = Infinity; }],
        ['-0 ties +0', (x) => { x.fill(-1); x[2] = -0; x[cols - 1] = 0; }],
        ['+0 ties -0', (x) => { x.fill(-1); x[2] = 0; x[cols - 1] = -0; }],
      ];
      for (const [name, fill] of cases) {
        const x = new Float32Array(cols);
        fill(x);
        assert.deepEqual(run(isa, x, 1, cols), argmaxRowsRef(x, 1, cols), `${name} cols=${cols}`);
      }
    }
  });
}

test('argmaxRows binding rejects bad shapes without crashing', () => {
  const x = new Float32Array(10);
  assert.throws(() => addon.ops.argmaxRows('portable', new Int32Array(2), x, 2, 0), /cols: expected an integer in \[1/);
  assert.throws(() => addon.ops.argmaxRows('portable', new Int32Array(2), x, 2, 6), /x: expected at least 12/);
  assert.throws(() => addon.ops.argmaxRows('portable', new Int32Array(1), x, 2, 5), /out: expected at least 2/);
  assert.throws(() => addon.ops.argmaxRows('portable', new Float32Array(2) as never, x, 2, 5), /out: expected Int32Array/);
});
