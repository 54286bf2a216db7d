import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon, ISAS, randomF32, rng } from '../helpers/native.js';
import { siluMulRef } from './reference/silu-mul.js';

/** Worst |a - b| / |b| over elements with b != 0; where b == 0, a must be 0 too. */
function worstRel(a: Float32Array, b: Float64Array): { err: number; at: number } {
  let err = 0, at = -1;
  for (let i = 0; i < b.length; i++) {
    const x = a[i] as number, y = b[i] as number;
    const e = y === 0 ? (x === 0 ? 0 : Infinity) : Math.abs(x - y) / Math.abs(y);
    if (!(e <= err)) { err = Number.isNaN(e) ? Infinity : e; at = i; }
  }
  return { err, at };
}

/** |up| in [0.5, 2) with random sign: keeps every product in the normal float range. */
function randomUp(n: number, random: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => (random() < 0.5 ? -1 : 1) * (0.5 + 1.5 * random()));
}

const SIZES = [1, 7, 8, 15, 16, 17, 31, 172, 4099];

for (const isa of ISAS) {
  test(`silu_mul ${isa} is within 1e-6 relative of the double reference over gate in [-88, 88]`, () => {
    const random = rng(31);
    const n = 40_003; // a dense grid, not a multiple of any vector width
    const gate = Float32Array.from({ length: n }, (_, i) => -88 + (176 * i) / (n - 1));
    gate[1000] = 0;
    gate[1001] = -0;
    const up = randomUp(n, random);
    const out = new Float32Array(n);
    addon.ops.siluMul(isa, out, gate, up, n);
    const { err, at } = worstRel(out, siluMulRef(gate, up));
    assert.ok(err < 1e-6, `max rel error ${err} at gate=${gate[at]}`);
  });

  test(`silu_mul ${isa} edge sizes and in place`, () => {
    const random = rng(32);
    for (const n of SIZES) {
      const gate = randomF32(n, random, 10);
      const up = randomUp(n, random);
      const expected = siluMulRef(gate, up);
      const out = new Float32Array(n);
      addon.ops.siluMul(isa, out, gate, up, n);
      assert.ok(worstRel(out, expected).err < 1e-6, `n=${n}`);
      addon.ops.siluMul(isa, gate, gate, up, n); // out aliases gate
      assert.deepEqual(gate, out, `n=${n} in place`);
    }
  });

  test(`silu_mul ${isa} stays finite and right at extreme gates`, () => {
    const gate = Float32Array.from([
      -3.4e38, -1e30, -1e5, -104, -100, -89, -88.7, -87, 87, 88.7, 89, 100, 104, 1e5, 1e30, 3.4e38,
      1e-40, -1e-40, 1e-30, -1e-30, 0, -0, 1e-3, -1e-3,
    ]);
    const up = Float32Array.from(gate, (_, i) => (i % 2 ? -0.75 : 0.5));
    const out = new Float32Array(gate.length);
    addon.ops.siluMul(isa, out, gate, up, gate.length);
    const expected = siluMulRef(gate, up);
    for (let i = 0; i < gate.length; i++) {
      const a = out[i] as number, e = expected[i] as number;
      assert.ok(Number.isFinite(a), `gate=${gate[i]}: got ${a}`);
      // Relative, plus an absolute 1e-36: once exp(-gate) overflows float (gate < -88.72) the formula
      // gives gate / inf = -0, where the true value is below 1e-36.
      assert.ok(Math.abs(a - e) <= 1e-6 * Math.abs(e) + 1e-36, `gate=${gate[i]}: got ${a}, expected ${e}`);
    }
  });
}

test('siluMul binding rejects short arrays without crashing', () => {
  const a = new Float32Array(8);
  assert.throws(() => addon.ops.siluMul('portable', a, a, new Float32Array(4), 8), /up: expected at least 8/);
  assert.throws(() => addon.ops.siluMul('portable', new Float32Array(2), a, a, 8), /out: expected at least 8/);
  assert.throws(() => addon.ops.siluMul('portable', a, a, a, -1), /n: expected an integer/);
});
