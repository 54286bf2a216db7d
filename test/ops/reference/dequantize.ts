// Naive reference for dequantize: ggml's formulas read straight from the block bytes, one element at
// a time, with every float operation rounded through Math.fround in ggml's order.
import { DType } from '../../../lib/model/types.js';

/** IEEE binary16 -> number, from the definition (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export const BLOCK_ELEMS: Record<DType, number> = {
  [DType.F32]: 1, [DType.F16]: 1, [DType.BF16]: 1, [DType.Q8_0]: 32, [DType.Q4_0]: 32, [DType.Q4_K]: 256, [DType.Q6_K]: 256,
};
export const BLOCK_BYTES: Record<DType, number> = {
  [DType.F32]: 4, [DType.F16]: 2, [DType.BF16]: 2, [DType.Q8_0]: 34, [DType.Q4_0]: 18, [DType.Q4_K]: 144, [DType.Q6_K]: 210,
};

export function rowBytes(dtype: DType, n: number): number {
  return (n / BLOCK_ELEMS[dtype]) * BLOCK_BYTES[dtype];
}

const f = Math.fround;

/** ggml get_scale_min_k4. */
function scaleMinK4(j: number, q: Uint8Array): [sc: number, m: number] {
  const b = (k: number) => q[k] as number;
  if (j < 4) return [b(j) & 63, b(j + 4) & 63];
  return [(b(j + 4) & 0xf) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4)];
}

/** One row of n elements of `dtype` -> f32. BF16 and F32 are returned bit-exactly (NaN payloads too). */
export function dequantizeRowRef(row: Uint8Array, dtype: DType, n: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  const view = new DataView(row.buffer, row.byteOffset, row.byteLength);
  const u8 = (i: number) => view.getUint8(i);
  const f16 = (i: number) => f16ToF32(view.getUint16(i, true));
  switch (dtype) {
    case DType.F32:
      for (let i = 0; i < n; i++) bits[i] = view.getUint32(4 * i, true);
      break;
    case DType.F16:
      for (let i = 0; i < n; i++) out[i] = f16(2 * i);
      break;
    case DType.BF16:
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) * 65536;
      break;
    case DType.Q8_0:
      for (let i = 0; i < n; i++) {
        const blk = Math.floor(i / 32) * 34;
        out[i] = f(view.getInt8(blk + 2 + (i % 32)) * f16(blk));
      }
      break;
    case DType.Q4_0:
      for (let i = 0; i < n; i++) {
        const blk = Math.floor(i / 32) * 18;
        const j = i % 32;
        const byte = u8(blk + 2 + (j % 16));
        const q = (j < 16 ? byte & 0xf : byte >> 4) - 8;
        out[i] = f(q * f16(blk));
      }
      break;
    case DType.Q4_K:
      for (let i = 0; i < n; i++) {
        const blk = Math.floor(i / 256) * 144;
        const j = i % 256;
        const sub = Math.floor(j / 32); // sub-block: chunk j/64, low nibbles first
        const [sc, m] = scaleMinK4(sub, row.subarray(blk + 4, blk + 16));
        const byte = u8(blk + 16 + Math.floor(j / 64) * 32 + (j % 32));
        const q = sub % 2 === 0 ? byte & 0xf : byte >> 4;
        out[i] = f(f(f(f16(blk) * sc) * q) - f(f16(blk + 2) * m));
      }
      break;
    case DType.Q6_K:
      for (let i = 0; i < n; i++) {
        const blk = Math.floor(i / 256) * 210;
        const j = i % 256;
        const half = Math.floor(j / 128);
        const k = Math.floor((j % 128) / 32); // which of the 4 quarter rows
        const l = j % 32;
        const ql = u8(blk + 64 * half + l + 32 * (k & 1));
        const low = k < 2 ? ql & 0xf : ql >> 4;
        const high = (u8(blk + 128 + 32 * half + l) >> (2 * k)) & 3;
        const q = (low | (high << 4)) - 32;
        const sc = view.getInt8(blk + 192 + 8 * half + Math.floor(l / 16) + 2 * k);
        out[i] = f(f(f16(blk + 208) * sc) * q);
      }
      break;
    default:
      throw new Error(`unknown dtype ${String(dtype)}`);
  }
  return out;
}
