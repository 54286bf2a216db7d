// Naive references for the KV cache: element formats (f32, f16, bf16 with round-to-nearest-even,
// computed from the value with exact double arithmetic, not with bit tricks) and kv_cache_write.
// Cache layout: [numBlocks, nKvHeads, blockSize, headDim]; slot = blockId * blockSize + offset.
import { DType } from '../../../lib/model/types.js';

export type KvDtype = DType.F32 | DType.F16 | DType.BF16;

export function kvElemBytes(dtype: KvDtype): number {
  return dtype === DType.F32 ? 4 : 2;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Unbiased float32 exponent field of |x| (-127 for zero and subnormals). */
function f32Exponent(x: number): number {
  f32Scratch[0] = x;
  return (((u32Scratch[0] as number) >>> 23) & 0xff) - 127;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const r = x - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** IEEE binary16 bits of float32 x, round to nearest even; overflow gives infinity, NaN a quiet NaN. */
export function f32ToF16Bits(value: number): number {
  const x = Math.fround(value);
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  const e = f32Exponent(a);
  if (e < -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal: multiples of 2^-24 (1024 = min normal)
  let m = roundHalfEven(a * 2 ** (10 - e)); // 1024 .. 2048
  let ex = e;
  if (m === 2048) {
    m = 1024;
    ex += 1;
  }
  if (ex > 15) return sign | 0x7c00;
  return sign | ((ex + 15) << 10) | (m - 1024);
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits of float32 x, round to nearest even; NaN gives a quiet NaN. */
export function f32ToBf16Bits(value: number): number {
  const x = Math.fround(value);
  if (Number.isNaN(x)) return 0x7fc0;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7f80;
  const e = f32Exponent(a);
  if (e === -127) return sign | roundHalfEven(a * 2 ** 133); // subnormal: multiples of 2^-133
  let m = roundHalfEven(a * 2 ** (7 - e)); // 128 .. 256
  let ex = e;
  if (m === 256) {
    m = 128;
    ex += 1;
  }
  if (ex > 127) return sign | 0x7f80;
  return sign | ((ex + 127) << 7) | (m - 128);
}

export function bf16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 7) & 0xff;
  const m = h & 0x7f;
  if (e === 0) return sign * m * 2 ** -133;
  if (e === 255) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 128) * 2 ** (e - 127);
}

/** Element `index` of a cache buffer, as a number. */
export function readKv(cache: Uint8Array, dtype: KvDtype, index: number): number {
  const view = new DataView(cache.buffer, cache.byteOffset, cache.byteLength);
  return readKvFrom(view, dtype, index);
}

export function readKvFrom(view: DataView, dtype: KvDtype, index: number): number {
  if (dtype === DType.F32) return view.getFloat32(index * 4, true);
  const h = view.getUint16(index * 2, true);
  return dtype === DType.F16 ? f16BitsToF32(h) : bf16BitsToF32(h);
}

export function writeKvTo(view: DataView, dtype: KvDtype, index: number, value: number): void {
  if (dtype === DType.F32) view.setFloat32(index * 4, value, true);
  else view.setUint16(index * 2, dtype === DType.F16 ? f32ToF16Bits(value) : f32ToBf16Bits(value), true);
}

/** kv_cache_write: k, v are [nTokens, nKvHeads, headDim]; slot -1 skips the token. */
export function kvCacheWriteRef(
  kCache: Uint8Array, vCache: Uint8Array, dtype: KvDtype, k: Float32Array, v: Float32Array,
  slotMapping: Int32Array, nTokens: number, nKvHeads: number, headDim: number, blockSize: number,
): void {
  const kView = new DataView(kCache.buffer, kCache.byteOffset, kCache.byteLength);
  const vView = new DataView(vCache.buffer, vCache.byteOffset, vCache.byteLength);
  for (let t = 0; t < nTokens; t++) {
    const slot = slotMapping[t] as number;
    if (slot === -1) continue;
    const block = Math.floor(slot / blockSize);
    const offset = slot % blockSize;
    for (let h = 0; h < nKvHeads; h++) {
      for (let d = 0; d < headDim; d++) {
        const dst = ((block * nKvHeads + h) * blockSize + offset) * headDim + d;
        const src = (t * nKvHeads + h) * headDim + d;
        writeKvTo(kView, dtype, dst, k[src] as number);
        writeKvTo(vView, dtype, dst, v[src] as number);
      }
    }
  }
}
