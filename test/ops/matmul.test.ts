import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DType } from '../../lib/model/types.js';
import { addon, ISAS, randomF32, rng } from '../helpers/native.js';
import { blockElems, dequantizeWeights, matmulPlainRef, matmulRef, randomWeights, rowBytes } from './reference/matmul.js';
import { bf16Round, f16Round, quantizeQ8_0, quantizeQ8_K } from './reference/quant-blocks.js';

const MS = [1, 2, 3, 5, 17, 64];
const NS = [1, 7, 33, 172, 256];
const KS: Record<'float' | 'q0' | 'k', number[]> = {
  float: [32, 64, 172, 256, 768, 2048],
  q0: [32, 64, 96, 256, 768, 2048], // 96: an odd number of blocks above one
  k: [256, 768, 2048],
};
// Edge shapes beyond the grid: K of 1 and not a multiple of 8/16, odd block counts, m past a tile.
const EXTRA: Record<'float' | 'q0' | 'k', Array<[m: number, n: number, k: number]>> = {
  float: [[3, 5, 1], [2, 9, 7], [2, 9, 4099], [9, 3, 17]],
  q0: [[2, 9, 4128], [9, 5, 160]],
  k: [[2, 9, 4352], [9, 5, 512]],
};

// Types with a packed layout in some kernel variant (the binding packs when asked and the variant can).
const PACKABLE = new Set([DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]);

const NAMES: Record<DType, string> = {
  [DType.F32]: 'F32', [DType.F16]: 'F16', [DType.BF16]: 'BF16', [DType.Q8_0]: 'Q8_0', [DType.Q4_0]: 'Q4_0', [DType.Q4_K]: 'Q4_K', [DType.Q6_K]: 'Q6_K',
};

function family(dtype: DType): 'float' | 'q0' | 'k' {
  const b = blockElems(dtype);
  return b === 1 ? 'float' : b === 32 ? 'q0' : 'k';
}

/** Typical magnitude of one output: sqrt(k) * rms(w) * rms(x), the scale of f32 summation error. */
function dotScale(w: Float64Array, x: Float32Array, k: number): number {
  let sw = 0, sx = 0;
  for (const v of w) sw += v * v;
  for (const v of x) sx += v * v;
  return Math.sqrt(k * (sw / w.length) * (sx / x.length)) || 1e-30;
}

/** max |a - b| / (|b| + scale): relative for large outputs, relative to the dot scale near zero. */
function relError(a: Float32Array, b: Float32Array, scale: number): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs((a[i] as number) - (b[i] as number)) / (Math.abs(b[i] as number) + scale);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

// Tolerance of the plain (unrounded activations) comparison: the activation rounding error itself.
const PLAIN_TOL: Record<DType, number> = {
  [DType.F32]: 1e-5, [DType.F16]: 5e-3, [DType.BF16]: 3e-2, [DType.Q8_0]: 6e-2, [DType.Q4_0]: 6e-2, [DType.Q4_K]: 6e-2, [DType.Q6_K]: 6e-2,
};

interface Case {
  m: number; n: number; k: number;
  w: Uint8Array; x: Float32Array; bias: Float32Array;
  ref: Float32Array; refBias: Float32Array; scale: number;
}

function buildCases(dtype: DType): Case[] {
  const fam = family(dtype);
  const shapes: Array<[number, number, number]> = [];
  for (const k of KS[fam]) for (const n of NS) for (const m of MS) shapes.push([m, n, k]);
  shapes.push(...EXTRA[fam]);
  const random = rng(1000 + dtype);
  const weights = new Map<string, { w: Uint8Array; deq: Float64Array }>();
  const cases: Case[] = [];
  for (const [m, n, k] of shapes) {
    let wk = weights.get(`${n}x${k}`);
    if (!wk) {
      const w = randomWeights(dtype, n, k, random);
      wk = { w, deq: dequantizeWeights(dtype, w, n, k) };
      weights.set(`${n}x${k}`, wk);
    }
    const x = randomF32(m * k, random, 2);
    const bias = randomF32(n, random);
    const ref = matmulRef(dtype, wk.w, n, k, x, m, null, wk.deq);
    const refBias = ref.map((v, i) => v + (bias[i % n] as number));
    const plain = matmulPlainRef(dtype, wk.w, n, k, x, m, null, wk.deq);
    const scale = dotScale(wk.deq, x, k);
    const plainErr = relError(ref, plain, scale);
    assert.ok(plainErr < PLAIN_TOL[dtype], `${NAMES[dtype]} m=${m} n=${n} k=${k}: activation rounding error ${plainErr} vs plain f32`);
    cases.push({ m, n, k, w: wk.w, x, bias, ref, refBias, scale });
  }
  return cases;
}

for (const dtype of [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
  test(`matmul ${NAMES[dtype]} matches the ggml-numerics reference on every ISA`, async (t) => {
    const cases = buildCases(dtype);
    for (const isa of ISAS) {
      await t.test(isa, () => {
        // packed: only where this variant has a packed layout for the type (elsewhere it is the same run)
        const canPack = PACKABLE.has(dtype) && addon.ops.matmulPack(isa, cases[0]!.w, dtype, cases[0]!.n, cases[0]!.k) !== null;
        for (const packed of canPack ? [false, true] : [false]) {
          for (const threads of [1, 2]) {
            for (const c of cases) {
              for (const withBias of [false, true]) {
                const out = new Float32Array(c.m * c.n).fill(NaN);
                addon.ops.matmul(isa, out, c.x, c.w, dtype, c.n, c.k, withBias ? c.bias : null, c.m, threads, packed);
                const err = relError(out, withBias ? c.refBias : c.ref, c.scale);
                assert.ok(err < 1e-5, `${isa} m=${c.m} n=${c.n} k=${c.k} bias=${withBias} threads=${threads} packed=${packed}: rel error ${err}`);
              }
            }
          }
        }
      });
    }
  });
}

// Batch invariance: a row of x gives bit-identical outputs whatever rows share the call (the engine
// batches requests; a request's tokens must not depend on its neighbours). Kernels that promise it:
// the packed layouts, which compute every output as one lane's fixed sequence of blocks.
test('matmul with packed weights: each row of x gives the same bits alone or in any batch', () => {
  const random = rng(99);
  for (const dtype of PACKABLE) {
    const n = 200, k = 768;
    const w = randomWeights(dtype, n, k, random);
    const x = randomF32(37 * k, random, 2);
    const bias = randomF32(n, random);
    for (const isa of ISAS) {
      if (addon.ops.matmulPack(isa, w, dtype, n, k) === null) continue; // this variant reads W unpacked
      const alone = new Float32Array(37 * n);
      for (let i = 0; i < 37; i++) {
        const o = new Float32Array(n);
        addon.ops.matmul(isa, o, x.subarray(i * k, (i + 1) * k), w, dtype, n, k, bias, 1, 1, true);
        alone.set(o, i * n);
      }
      for (const [m, threads] of [[2, 1], [5, 2], [13, 1], [37, 2]] as const) {
        const out = new Float32Array(m * n);
        addon.ops.matmul(isa, out, x.subarray(0, m * k), w, dtype, n, k, bias, m, threads, true);
        for (let i = 0; i < m * n; i++) {
          assert.ok(Object.is(out[i], alone[i]), `${NAMES[dtype]} ${isa} m=${m}: output ${i} is ${out[i]} batched, ${alone[i]} alone`);
        }
      }
    }
  }
});

// matmulMulti (q/k/v and gate/up share one activation conversion and one pass over the threads): each
// output is bit-identical to its own matmul, whatever the weights' sizes (their work units mix).
test('matmulMulti gives each product the bits of its own matmul', () => {
  const random = rng(123);
  for (const dtype of [DType.F32, DType.F16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
    const k = family(dtype) === 'k' ? 512 : 96;
    const ns = [70, 33, 16, 129];
    const ws = ns.map((n) => randomWeights(dtype, n, k, random));
    const biases = ns.map((n, i) => (i % 2 ? randomF32(n, random) : null));
    for (const isa of ISAS) {
      for (const packed of [false, true]) {
        for (const [m, threads] of [[1, 1], [3, 2], [9, 2]] as const) {
          const x = randomF32(m * k, random, 2);
          const outs = ns.map((n) => new Float32Array(m * n).fill(NaN));
          addon.ops.matmulMulti(isa, outs, x, ws, dtype, ns, k, biases, m, threads, packed);
          ns.forEach((n, i) => {
            const one = new Float32Array(m * n);
            addon.ops.matmul(isa, one, x, ws[i]!, dtype, n, k, biases[i] ?? null, m, threads, packed);
            for (let j = 0; j < m * n; j++) {
              assert.ok(Object.is(outs[i]![j], one[j]), `${NAMES[dtype]} ${isa} packed=${packed} m=${m} product ${i} output ${j}: ${outs[i]![j]} vs ${one[j]}`);
            }
          });
        }
      }
    }
  }
});

// ---- activation rounding / quantization, checked exactly through identity-like weights ----

/** Weights [k, k] of `dtype` whose row j is the unit vector e_j: out[i, j] = (rounded x)[i, j] exactly. */
function identityWeights(dtype: DType, k: number): Uint8Array {
  const w = new Uint8Array(k * rowBytes(dtype, k));
  const view = new DataView(w.buffer);
  const one = 0x3c00; // fp16 1.0
  for (let j = 0; j < k; j++) {
    const row = j * rowBytes(dtype, k);
    if (dtype === DType.F16 || dtype === DType.BF16) {
      view.setUint16(row + 2 * j, dtype === DType.F16 ? one : 0x3f80, true);
    } else if (dtype === DType.Q8_0 || dtype === DType.Q4_0) {
      const bytes = dtype === DType.Q8_0 ? 34 : 18;
      for (let b = 0; b < k / 32; b++) {
        view.setUint16(row + b * bytes, one, true);
        if (dtype === DType.Q4_0) w.fill(0x88, row + b * bytes + 2, row + (b + 1) * bytes); // nibble 8 = 0
      }
      const p = row + Math.floor(j / 32) * bytes + 2, e = j % 32;
      if (dtype === DType.Q8_0) w[p + e] = 1;
      else w[p + (e % 16)] = e < 16 ? 0x89 : 0x98; // nibble 9 = 1
    } else if (dtype === DType.Q6_K) {
      for (let b = 0; b < k / 256; b++) {
        const p = row + b * 210;
        w.fill(0, p, p + 192); // q6 = 32 (value 0): low nibble 0, high bits 2
        for (let l = 0; l < 64; l++) w[p + 128 + l] = 0xaa;
        w.fill(1, p + 192, p + 208); // all 16 scales 1
        view.setUint16(p + 208, one, true);
      }
      // element e = 128 h + 32 t + l gets q6 = 33: low nibble 1 (high nibble when t >= 2)
      const p = row + Math.floor(j / 256) * 210, e = j % 256;
      const h = e >> 7, t = (e >> 5) & 3, l = e & 31;
      const i = p + 64 * h + l + (t & 1) * 32;
      w[i] = (w[i] as number) | (t < 2 ? 0x01 : 0x10);
    } else if (dtype === DType.Q4_K) {
      for (let b = 0; b < k / 256; b++) {
        const p = row + b * 144;
        view.setUint16(p, one, true); // d = 1, dmin = 0
        w.set([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1], p + 4); // every scale 1, every min 0
      }
      const p = row + Math.floor(j / 256) * 144, e = j % 256;
      const i = p + 16 + 32 * (e >> 6) + (e % 32);
      w[i] = (w[i] as number) | ((e % 64) < 32 ? 0x01 : 0x10);
    }
  }
  return w;
}

function exactCheck(dtype: DType, x: Float32Array, m: number, k: number, expected: Float32Array): void {
  const w = identityWeights(dtype, k);
  for (const isa of ISAS) {
    const out = new Float32Array(m * k).fill(NaN);
    addon.ops.matmul(isa, out, x, w, dtype, k, k, null, m, 1);
    for (let i = 0; i < m * k; i++) {
      // === so that -0 (a rounded tiny negative) equals the +0 a sum of zero products gives
      assert.ok(out[i] === expected[i], `${NAMES[dtype]} ${isa}: element ${i} (x = ${x[i]}): ${out[i]} !== ${expected[i]}`);
    }
  }
}

test('matmul F16 / BF16: activations are rounded to nearest even, subnormals included', () => {
  const special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 65504, 65519, -65519, 2 ** -24, 3 * 2 ** -25, 2 ** -26,
    1e-6, -1e-6, 6.1e-5, 0, -0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.14159265, -2.71828, 1e30, -1e-30];
  const m = 2, k = 64;
  const x = new Float32Array(m * k);
  const random = rng(7);
  for (let i = 0; i < x.length; i++) x[i] = i < special.length ? (special[i] as number) : (random() * 2 - 1) * 10 ** Math.floor(random() * 8 - 4);
  // f16 overflows to inf for |x| >= 65520, which would make 0 * inf = NaN spill over the other outputs
  const xf16 = x.map((v) => (Math.abs(v) >= 65520 ? 1 : v));
  exactCheck(DType.F16, xf16, m, k, xf16.map(f16Round));
  exactCheck(DType.BF16, x, m, k, x.map(bf16Round));
});

test('matmul Q8_0 / Q4_0: activations are quantized as ggml x86 quantize_row_q8_0', () => {
  const m = 2, k = 128;
  const x = new Float32Array(m * k);
  const random = rng(8);
  // block 0: amax 127 so x * 127/amax is exact and halves are ties (round half to even)
  const ties = [127, 2.5, -2.5, 3.5, 0.5, -0.5, 126.5, -126.5, 1.5, 4.5, -127];
  for (let j = 0; j < 32; j++) x[j] = (ties[j] as number) ?? Math.round(random() * 200 - 100) / 2;
  // block 1 of row 0 stays all zero (d = 0); block 2: random; block 3: tiny (d underflows in fp16)
  for (let j = 64; j < 96; j++) x[j] = random() * 2 - 1;
  for (let j = 96; j < 128; j++) x[j] = (random() - 0.5) * 1e-9;
  for (let j = k; j < 2 * k; j++) x[j] = (random() * 2 - 1) * 10;
  const { q, d } = quantizeQ8_0(x);
  const expected = Float32Array.from(q, (v, i) => v * (d[Math.floor(i / 32)] as number));
  assert.deepEqual([...q.subarray(0, 11)], [127, 2, -2, 4, 0, 0, 126, -126, 2, 4, -127]);
  exactCheck(DType.Q8_0, x, m, k, expected);
  exactCheck(DType.Q4_0, x, m, k, expected);
});

test('matmul Q4_K / Q6_K: activations are quantized as ggml quantize_row_q8_K_ref', () => {
  const m = 2, k = 768;
  const x = new Float32Array(m * k);
  const random = rng(9);
  // block 0: the first value of largest magnitude is -127, so iscale = 1 and halves are ties; the later
  // +127 must not win; block 1 of row 0 is all zero; everything else random
  const ties = [1, -127, 2.5, -3.5, 0.5, 126.5, -126.5, 127, 4.5];
  for (let j = 0; j < 256; j++) x[j] = (ties[j] as number) ?? Math.round(random() * 200 - 100) / 2;
  for (let j = 512; j < 2 * k; j++) x[j] = (random() * 2 - 1) * 3;
  const { q, d } = quantizeQ8_K(x);
  const expected = Float32Array.from(q, (v, i) => v * (d[Math.floor(i / 256)] as number));
  assert.deepEqual([...q.subarray(0, 9)], [1, -127, 2, -4, 0, 126, -126, 127, 4]);
  exactCheck(DType.Q6_K, x, m, k, expected);
  exactCheck(DType.Q4_K, x, m, k, expected);
});

test('matmul writes nothing for m = 0 and handles n = 1, k = 1', () => {
  const out = new Float32Array(4).fill(7);
  addon.ops.matmul('portable', out, new Float32Array(0), new Uint8Array(4 * 32 * 34 / 32), DType.Q8_0, 4, 32, null, 0, 2);
  assert.deepEqual([...out], [7, 7, 7, 7]);
  for (const isa of ISAS) {
    const o = new Float32Array(1);
    addon.ops.matmul(isa, o, Float32Array.of(3), new Uint8Array(Float32Array.of(-2).buffer), DType.F32, 1, 1, Float32Array.of(0.5), 1, 1);
    assert.equal(o[0], -5.5);
  }
});

test('matmul binding rejects bad arguments with a JS error', () => {
  const k = 256, n = 2, m = 1;
  const x = new Float32Array(m * k), out = new Float32Array(m * n);
  const w = new Uint8Array(n * rowBytes(DType.Q4_K, k));
  const call = (o: Partial<{ isa: string; out: Float32Array; x: Float32Array; w: Uint8Array; dtype: number; n: number; k: number; bias: Float32Array | null; m: number; threads: number }>) =>
    addon.ops.matmul((o.isa ?? 'portable') as never, o.out ?? out, o.x ?? x, o.w ?? w, o.dtype ?? DType.Q4_K, o.n ?? n, o.k ?? k,
      o.bias === undefined ? null : o.bias, o.m ?? m, o.threads ?? 1);
  call({}); // the valid call works
  assert.throws(() => call({ isa: 'sse9' }), /isa: expected/);
  assert.throws(() => call({ dtype: 7 }), /dtype: expected an integer in \[0, 6\]/);
  assert.throws(() => call({ k: 100, x: new Float32Array(100) }), /k: expected a multiple of the Q4_K block size 256, got 100/);
  assert.throws(() => call({ w: new Uint8Array(w.length - 1) }), /weight: expected at least 288 elements/);
  assert.throws(() => call({ w: new Uint8Array(w.length + 1) }), /weight: expected 288 bytes/);
  assert.throws(() => call({ dtype: DType.Q6_K }), /weight: expected at least 420 elements/);
  assert.throws(() => call({ out: new Float32Array(1) }), /out: expected at least 2 elements/);
  assert.throws(() => call({ x: new Float32Array(10) }), /x: expected at least 256 elements/);
  assert.throws(() => call({ bias: new Float32Array(1) }), /bias: expected at least 2 elements/);
  assert.throws(() => call({ threads: 0 }), /threads: expected an integer/);
  assert.throws(() => call({ n: 0 }), /n: expected an integer/);
  assert.throws(() => call({ m: -1 }), /m: expected an integer/);
  assert.throws(() => call({ w: new Float32Array(72) as never }), /weight: expected Uint8Array/);
  const shared = new Float32Array(k + n);
  assert.throws(() => call({ out: shared.subarray(0, n), x: shared.subarray(1, 1 + k) }), /out: must not overlap x/);
});
