// TS quantizers: exact conversions, hand-built blocks decoded per ggml's layouts, ggml reference
// rounding (roundf vs nearest_int), and round-trip error bounds per type.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DType, quant } from '../../../lib/model/index.js';

const {
  f32ToF16Bits,
  f16BitsToF32,
  f32ToBf16Bits,
  bf16BitsToF32,
  quantizeQ8_0,
  dequantizeQ8_0,
  quantizeQ4_0,
  dequantizeQ4_0,
  quantizeQ4_K,
  dequantizeQ4_K,
  getScaleMinK4,
  quantizeQ6_K,
  dequantizeQ6_K,
  quantizeQ8_K,
  encodeQ8_K,
  dequantizeQ8_K,
} = quant;

function gaussian(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

function f32Bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0]!;
}

function fromBits(bits: number): number {
  return new Float32Array(Uint32Array.of(bits).buffer)[0]!;
}

test('F16: exact values, ties to even, overflow and subnormals', () => {
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(-2), 0xc000);
  assert.equal(f32ToF16Bits(0), 0x0000);
  assert.equal(f32ToF16Bits(-0), 0x8000);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(65519), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00, 'halfway to 65536 rounds to even, i.e. infinity');
  assert.equal(f32ToF16Bits(Infinity), 0x7c00);
  assert.equal(f32ToF16Bits(-Infinity), 0xfc00);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00, 'tie between 1 and 1+2^-10 goes to even');
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02, 'tie goes up to the even neighbour');
  assert.equal(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01, 'just above the tie rounds up');
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000, 'half the smallest subnormal ties to zero');
  assert.equal(f32ToF16Bits(3 * 2 ** -25), 0x0002, 'subnormal tie goes to even');
  assert.equal(f32ToF16Bits(2 ** -25 * 1.01), 0x0001);
  assert.equal(f32ToF16Bits(2 ** -14 - 2 ** -25), 0x0400, 'rounding carries a subnormal into the smallest normal');
  assert.equal(f16BitsToF32(0x3555), 0.333251953125);
});

test('F16: every finite half survives F16 -> F32 -> F16', () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = f16BitsToF32(h);
    if (Number.isNaN(x)) continue;
    assert.equal(f32ToF16Bits(x), h, `half 0x${h.toString(16)}`);
  }
});

test('BF16: round to nearest even on the dropped 16 bits, NaN stays NaN', () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(f32ToBf16Bits(fromBits(0x3f808000)), 0x3f80, 'tie to even (down)');
  assert.equal(f32ToBf16Bits(fromBits(0x3f818000)), 0x3f82, 'tie to even (up)');
  assert.equal(f32ToBf16Bits(fromBits(0x3f808001)), 0x3f81, 'above the tie');
  assert.equal(f32ToBf16Bits(fromBits(0x3f807fff)), 0x3f80, 'below the tie');
  assert.equal(f32ToBf16Bits(fromBits(0x7f7fffff)), 0x7f80, 'max float rounds to infinity');
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
  for (let b = 0; b < 0x10000; b++) {
    const x = bf16BitsToF32(b);
    if (Number.isNaN(x)) continue;
    assert.equal(f32ToBf16Bits(x), b);
    assert.equal(f32Bits(x), (b << 16) >>> 0);
  }
});

test('Q8_0: hand-built block decodes as d * q', () => {
  const block = new Uint8Array(34);
  block[0] = 0x00; // f16 0x3800 = 0.5
  block[1] = 0x38;
  const qs = [-128, -127, -1, 0, 1, 2, 63, 127];
  qs.forEach((q, i) => (block[2 + i] = q & 0xff));
  const y = dequantizeQ8_0(block, 32);
  qs.forEach((q, i) => assert.equal(y[i], 0.5 * q));
  for (let i = qs.length; i < 32; i++) assert.equal(y[i], 0);
});

test('Q8_0: ggml reference rounding (d = amax/127, roundf half away from zero)', () => {
  const x = new Float32Array(32);
  x.set([127, 2.5, -2.5, 0.5, -0.5, 1.5, -126.5, 0.49]);
  const bytes = quantizeQ8_0(x);
  assert.equal(bytes[0]! | (bytes[1]! << 8), 0x3c00, 'd = 127/127 = 1 stored as f16');
  const q = Array.from(bytes.subarray(2, 10), (b) => (b << 24) >> 24);
  assert.deepEqual(q, [127, 3, -3, 1, -1, 2, -127, 0]);
  const zero = quantizeQ8_0(new Float32Array(32));
  assert.ok(zero.every((b) => b === 0), 'an all-zero block has d = 0 and q = 0');
});

test('Q4_0: hand-built block, nibble order and ggml reference rounding', () => {
  const block = new Uint8Array(18);
  block[0] = 0x00; // d = 2.0 (f16 0x4000)
  block[1] = 0x40;
  for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
  const y = dequantizeQ4_0(block, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(y[j], 2 * (j - 8), `low nibble of byte ${j} is element ${j}`);
    assert.equal(y[j + 16], 2 * (15 - j - 8), `high nibble of byte ${j} is element ${j + 16}`);
  }
  // max = -8 gives d = 1, id = 1: q = min(15, trunc(x + 8.5)).
  const x = new Float32Array(32);
  x.set([-8, 7, 7.9, 0, -0.5, -0.6, 0.49, 0.5]);
  const bytes = quantizeQ4_0(x);
  assert.equal(bytes[0]! | (bytes[1]! << 8), 0x3c00);
  const nib = (i: number): number => (i < 16 ? bytes[2 + i]! & 0xf : bytes[2 + i - 16]! >> 4);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map(nib), [0, 15, 15, 8, 8, 7, 8, 9]);
});

test('Q4_K: get_scale_min_k4 unpacks 6-bit scales and mins; hand-built block decodes', () => {
  const sc = [1, 2, 3, 4, 17, 33, 63, 40];
  const m = [5, 6, 7, 8, 20, 50, 1, 63];
  // Packed by hand from the layout: bytes 0-3 low scales (+ top bits of scales 4-7), 4-7 low
  // mins (+ top bits of mins 4-7), 8-11 low nibbles of scales/mins 4-7.
  const packed = Uint8Array.from([65, 130, 195, 132, 69, 198, 7, 200, 65, 33, 31, 248]);
  for (let j = 0; j < 8; j++) assert.deepEqual(getScaleMinK4(j, packed, 0), [sc[j], m[j]], `sub-block ${j}`);

  const block = new Uint8Array(144);
  block.set([0x00, 0x3c, 0x00, 0x38]); // d = 1, dmin = 0.5
  block.set(packed, 4);
  for (let g = 0; g < 4; g++) {
    for (let l = 0; l < 32; l++) block[16 + 32 * g + l] = (l % 16) | ((15 - (l % 16)) << 4);
  }
  const y = dequantizeQ4_K(block, 256);
  for (let i = 0; i < 256; i++) {
    const g = Math.floor(i / 64);
    const high = i % 64 >= 32;
    const l = i % 32;
    const q = high ? 15 - (l % 16) : l % 16;
    const j = 2 * g + (high ? 1 : 0);
    assert.equal(y[i], sc[j]! * q - 0.5 * m[j]!, `element ${i}`);
  }
});

test('Q6_K: hand-built block decodes as d * scale * (q - 32)', () => {
  const levels = Array.from({ length: 256 }, (_, i) => (i * 7) % 64);
  const scales = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? i + 1 : -(i + 1)));
  const block = new Uint8Array(210);
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const [q1, q2, q3, q4] = [0, 32, 64, 96].map((o) => levels[128 * h + l + o]!) as [number, number, number, number];
      block[64 * h + l] = (q1 & 15) | ((q3 & 15) << 4);
      block[64 * h + l + 32] = (q2 & 15) | ((q4 & 15) << 4);
      block[128 + 32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
    }
  }
  scales.forEach((s, i) => (block[192 + i] = s & 0xff));
  block[208] = 0x00; // d = 0.25 (f16 0x3400)
  block[209] = 0x34;
  const y = dequantizeQ6_K(block, 256);
  for (let i = 0; i < 256; i++) {
    assert.equal(y[i], 0.25 * scales[Math.floor(i / 16)]! * (levels[i]! - 32), `element ${i}`);
  }
});

test('Q8_K: ggml reference (iscale = -127/max, nearest_int ties to even, bsums)', () => {
  const x = new Float32Array(256);
  x.set([-127, 2.5, 3.5, -2.5, 126.5, 0.5]);
  const q = quantizeQ8_K(x);
  assert.equal(q.d[0], 1, 'max = -127 gives iscale 1, d = 1');
  assert.deepEqual(Array.from(q.qs.subarray(0, 6)), [-127, 2, 4, -2, 126, 0]);
  assert.equal(q.bsums[0], -127 + 2 + 4 - 2 + 126 + 0);
  for (let j = 1; j < 16; j++) assert.equal(q.bsums[j], 0);

  // A positive max flips the sign: d < 0 and quants are negated, as in ggml.
  const pos = quantizeQ8_K(Float32Array.from({ length: 256 }, (_, i) => (i === 7 ? 127 : i / 10)));
  assert.equal(pos.d[0], -1);
  assert.equal(pos.qs[7], -127);
  const back = dequantizeQ8_K(pos);
  for (let i = 0; i < 256; i++) assert.ok(Math.abs(back[i]! - (i === 7 ? 127 : i / 10)) <= 0.5);

  const bytes = encodeQ8_K(q);
  const view = new DataView(bytes.buffer);
  assert.equal(bytes.length, 292);
  assert.equal(view.getFloat32(0, true), 1);
  assert.equal(view.getInt8(4), -127);
  assert.equal(view.getInt16(260, true), q.bsums[0]);

  const zero = quantizeQ8_K(new Float32Array(256));
  assert.equal(zero.d[0], 0);
  assert.ok(zero.qs.every((v) => v === 0) && zero.bsums.every((v) => v === 0));
});

test('round trips stay within per-type error bounds', () => {
  const x = gaussian(256 * 32, 1234, 0.5);
  const blockMax = (size: number, b: number): number => {
    let m = 0;
    for (let i = 0; i < size; i++) m = Math.max(m, Math.abs(x[b * size + i]!));
    return m;
  };
  const relRms = (y: Float32Array): number => {
    let se = 0;
    let sx = 0;
    for (let i = 0; i < x.length; i++) {
      se += (x[i]! - y[i]!) ** 2;
      sx += x[i]! ** 2;
    }
    return Math.sqrt(se / sx);
  };

  const f16 = quant.dequantize(DType.F16, quant.quantize(DType.F16, x), x.length);
  x.forEach((v, i) => assert.ok(Math.abs(v - f16[i]!) <= Math.abs(v) * 2 ** -11 + 2 ** -25));
  const bf16 = quant.dequantize(DType.BF16, quant.quantize(DType.BF16, x), x.length);
  x.forEach((v, i) => assert.ok(Math.abs(v - bf16[i]!) <= Math.abs(v) * 2 ** -8));
  const f32 = quant.dequantize(DType.F32, quant.quantize(DType.F32, x), x.length);
  assert.deepEqual(f32, x);

  // Q8_0: half a step (amax/254) plus the f16 rounding of d.
  const q8 = dequantizeQ8_0(quantizeQ8_0(x), x.length);
  for (let b = 0; b < x.length / 32; b++) {
    const bound = blockMax(32, b) * (1 / 254 + 2 ** -10);
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(x[32 * b + i]! - q8[32 * b + i]!) <= bound, `q8_0 block ${b}`);
  }
  assert.ok(relRms(q8) < 0.01);
  // Q4_0: at most one step (amax/8) on the clamped side.
  const q4 = dequantizeQ4_0(quantizeQ4_0(x), x.length);
  for (let b = 0; b < x.length / 32; b++) {
    const bound = (blockMax(32, b) / 8) * (1 + 2 ** -9);
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(x[32 * b + i]! - q4[32 * b + i]!) <= bound, `q4_0 block ${b}`);
  }
  assert.ok(relRms(q4) < 0.11);
  // K-quants: bounded by a fraction of the super-block's range.
  for (const [name, q, dq, frac, rms] of [
    ['Q4_K', quantizeQ4_K, dequantizeQ4_K, 0.05, 0.1],
    ['Q6_K', quantizeQ6_K, dequantizeQ6_K, 0.015, 0.025],
  ] as const) {
    const y = dq(q(x), x.length);
    for (let b = 0; b < x.length / 256; b++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < 256; i++) {
        lo = Math.min(lo, x[256 * b + i]!);
        hi = Math.max(hi, x[256 * b + i]!);
      }
      for (let i = 0; i < 256; i++) {
        assert.ok(Math.abs(x[256 * b + i]! - y[256 * b + i]!) <= frac * (hi - lo), `${name} block ${b} element ${i}`);
      }
    }
    assert.ok(relRms(y) < rms, `${name} relative RMS error ${relRms(y)}`);
  }
});

test('K-quants handle zero, constant, all-positive and mixed-magnitude super-blocks', () => {
  const cases: [string, Float32Array][] = [
    ['zeros', new Float32Array(256)],
    ['constant', new Float32Array(256).fill(0.75)],
    ['positive ramp', Float32Array.from({ length: 256 }, (_, i) => 1 + i / 256)],
    ['mixed magnitudes', Float32Array.from({ length: 256 }, (_, i) => (i < 32 ? 100 : 0.01) * Math.sin(i))],
  ];
  for (const [name, x] of cases) {
    let amax = 0;
    for (const v of x) amax = Math.max(amax, Math.abs(v));
    for (const [type, q, dq] of [
      ['Q4_K', quantizeQ4_K, dequantizeQ4_K],
      ['Q6_K', quantizeQ6_K, dequantizeQ6_K],
    ] as const) {
      const y = dq(q(x), 256);
      for (let i = 0; i < 256; i++) {
        assert.ok(Number.isFinite(y[i]!), `${type} ${name}: finite`);
        assert.ok(Math.abs(x[i]! - y[i]!) <= 0.07 * amax + 1e-6, `${type} ${name} element ${i}: ${x[i]} vs ${y[i]}`);
      }
    }
  }
});

test('quantizers reject lengths that are not a block multiple', () => {
  assert.throws(() => quantizeQ8_0(new Float32Array(33)), /block size 32/);
  assert.throws(() => quantizeQ4_0(new Float32Array(16)), /block size 32/);
  assert.throws(() => quantizeQ4_K(new Float32Array(128)), /block size 256/);
  assert.throws(() => quantizeQ6_K(new Float32Array(300)), /block size 256/);
  assert.throws(() => quantizeQ8_K(new Float32Array(32)), /block size 256/);
  assert.throws(() => quant.dequantize(DType.Q8_0, new Uint8Array(33), 32), /cannot hold/);
});
