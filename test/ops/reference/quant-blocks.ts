// Naive, independent TS versions of the ggml block formats used by the op tests: fp16/bf16 rounding,
// dequantizers (exact values, in double) for Q8_0 / Q4_0 / Q4_K / Q6_K, random valid block builders,
// and the activation quantizers llama.cpp's CPU backend applies before a dot product (Q8_0, Q8_K).
// Written from the format descriptions, not from the native code, so they check it independently.

export const QK8_0 = 32;
export const QK_K = 256;
export const BLOCK_BYTES = { q8_0: 34, q4_0: 18, q4_K: 144, q6_K: 210 } as const;

/** Round half to even (x is any double). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** IEEE binary16 bits of the f32 value v, round to nearest even (subnormals, overflow to inf). */
export function f32ToF16Bits(v: number): number {
  v = Math.fround(v);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // halfway above the largest half (65504) rounds up to inf
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (1024 is the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // log2 can be off by one near powers of two
  if (2 ** (e + 1) <= a) e += 1;
  let mant = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (mant === 1024) {
    mant = 0;
    e += 1;
  }
  return sign | ((e + 15) << 10) | mant;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export const f16Round = (v: number): number => f16BitsToF32(f32ToF16Bits(v));

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** bfloat16 bits of the f32 value v, round to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  const bits = u32Scratch[0] as number;
  const upper = bits >>> 16;
  if (Number.isNaN(v)) return upper | 0x40;
  const lower = bits & 0xffff;
  const up = lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1);
  return (upper + (up ? 1 : 0)) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32Scratch[0] = (h << 16) >>> 0;
  return f32Scratch[0] as number;
}

export const bf16Round = (v: number): number => bf16BitsToF32(f32ToBf16Bits(v));

// ---- dequantizers: one row of nBlocks blocks starting at `offset`, exact values in double ----

function u16(b: Uint8Array, i: number): number {
  return (b[i] as number) | ((b[i + 1] as number) << 8);
}
function i8(b: Uint8Array, i: number): number {
  return ((b[i] as number) << 24) >> 24;
}

export function dequantQ8_0(b: Uint8Array, offset: number, nBlocks: number, out: Float64Array): void {
  for (let blk = 0; blk < nBlocks; blk++) {
    const p = offset + blk * BLOCK_BYTES.q8_0;
    const d = f16BitsToF32(u16(b, p));
    for (let j = 0; j < 32; j++) out[blk * 32 + j] = d * i8(b, p + 2 + j);
  }
}

export function dequantQ4_0(b: Uint8Array, offset: number, nBlocks: number, out: Float64Array): void {
  for (let blk = 0; blk < nBlocks; blk++) {
    const p = offset + blk * BLOCK_BYTES.q4_0;
    const d = f16BitsToF32(u16(b, p));
    for (let j = 0; j < 16; j++) {
      const byte = b[p + 2 + j] as number;
      out[blk * 32 + j] = d * ((byte & 15) - 8);
      out[blk * 32 + 16 + j] = d * ((byte >> 4) - 8);
    }
  }
}

/** Q4_K 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at s. */
export function q4kScaleMin(b: Uint8Array, s: number, j: number): [scale: number, min: number] {
  const q = (i: number): number => b[s + i] as number;
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

export function dequantQ4_K(b: Uint8Array, offset: number, nBlocks: number, out: Float64Array): void {
  for (let blk = 0; blk < nBlocks; blk++) {
    const p = offset + blk * BLOCK_BYTES.q4_K;
    const d = f16BitsToF32(u16(b, p));
    const dmin = f16BitsToF32(u16(b, p + 2));
    for (let j = 0; j < 4; j++) {
      const [s1, m1] = q4kScaleMin(b, p + 4, 2 * j);
      const [s2, m2] = q4kScaleMin(b, p + 4, 2 * j + 1);
      for (let l = 0; l < 32; l++) {
        const byte = b[p + 16 + 32 * j + l] as number;
        out[blk * 256 + 64 * j + l] = d * s1 * (byte & 15) - dmin * m1;
        out[blk * 256 + 64 * j + 32 + l] = d * s2 * (byte >> 4) - dmin * m2;
      }
    }
  }
}

export function dequantQ6_K(b: Uint8Array, offset: number, nBlocks: number, out: Float64Array): void {
  for (let blk = 0; blk < nBlocks; blk++) {
    const p = offset + blk * BLOCK_BYTES.q6_K;
    const d = f16BitsToF32(u16(b, p + 208));
    for (let e = 0; e < 256; e++) {
      // element e = 128 h + 32 t + l: low 4 bits from ql, high 2 bits from qh, both chosen by t
      const h = e >> 7, t = (e >> 5) & 3, l = e & 31;
      const ql = b[p + 64 * h + l + (t & 1) * 32] as number;
      const low = t < 2 ? ql & 15 : ql >> 4;
      const high = ((b[p + 128 + 32 * h + l] as number) >> (2 * t)) & 3;
      out[blk * 256 + e] = d * i8(b, p + 192 + (e >> 4)) * ((low | (high << 4)) - 32);
    }
  }
}

// ---- random valid blocks: random quant bytes, small random f16 scales ----

function randomScaleBits(random: () => number, signed = true): number {
  const mag = 1e-3 + random() * 9e-3;
  return f32ToF16Bits(signed && random() < 0.5 ? -mag : mag);
}

function putU16(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff;
  b[i + 1] = (v >> 8) & 0xff;
}

/** n rows of k/blockElems blocks of the given quant type, all bytes random except the f16 scales. */
export function randomQuantRows(type: keyof typeof BLOCK_BYTES, n: number, k: number, random: () => number): Uint8Array {
  const per = type === 'q8_0' || type === 'q4_0' ? QK8_0 : QK_K;
  const nBlocks = (n * k) / per;
  const bytes = BLOCK_BYTES[type];
  const b = new Uint8Array(nBlocks * bytes);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(random() * 256);
  for (let blk = 0; blk < nBlocks; blk++) {
    const p = blk * bytes;
    if (type === 'q6_K') putU16(b, p + 208, randomScaleBits(random));
    else putU16(b, p, randomScaleBits(random));
    if (type === 'q4_K') putU16(b, p + 2, randomScaleBits(random));
  }
  return b;
}

// ---- activation quantizers of llama.cpp's CPU backend ----

export interface QuantizedActs {
  /** Quants, same length as x. */
  q: Int8Array;
  /** Block scales as used in the dot product (Q8_0: the fp16-rounded value). */
  d: Float64Array;
}

/** ggml x86 quantize_row_q8_0: d = amax/127 kept as fp16, q = round-half-even(x * (127/amax)). */
export function quantizeQ8_0(x: Float32Array): QuantizedActs {
  const nb = x.length / QK8_0;
  const q = new Int8Array(x.length);
  const d = new Float64Array(nb);
  for (let blk = 0; blk < nb; blk++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[blk * 32 + j] as number));
    d[blk] = f16Round(Math.fround(amax / 127));
    const id = amax !== 0 ? Math.fround(127 / amax) : 0;
    for (let j = 0; j < 32; j++) {
      const v = roundHalfEven(Math.fround((x[blk * 32 + j] as number) * id));
      q[blk * 32 + j] = Math.max(-128, Math.min(127, v));
    }
  }
  return { q, d };
}

/** ggml quantize_row_q8_K_ref: scale from the first element of largest magnitude, sign kept. */
export function quantizeQ8_K(x: Float32Array): QuantizedActs {
  const nb = x.length / QK_K;
  const q = new Int8Array(x.length);
  const d = new Float64Array(nb);
  for (let blk = 0; blk < nb; blk++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[blk * 256 + j] as number;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    if (amax === 0) continue; // d = 0, quants 0
    const iscale = Math.fround(-127 / max);
    for (let j = 0; j < 256; j++) {
      q[blk * 256 + j] = Math.min(127, roundHalfEven(Math.fround(iscale * (x[blk * 256 + j] as number))));
    }
    d[blk] = Math.fround(1 / iscale);
  }
  return { q, d };
}
