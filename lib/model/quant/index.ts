// Quantize (F32 -> stored bytes) and dequantize (stored bytes -> F32) for every kvserve DType.
// These are the naive references the native kernels are tested against.
import { DType } from '../types.js';
import { dtypeInfo } from '../dtype-info.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from './half.js';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4-0.js';
import { dequantizeQ4_K, quantizeQ4_K } from './q4-k.js';
import { dequantizeQ6_K, quantizeQ6_K } from './q6-k.js';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8-0.js';

export * from './half.js';
export { quantizeQ8_0, dequantizeQ8_0, Q8_0_BLOCK, Q8_0_BYTES } from './q8-0.js';
export { quantizeQ4_0, dequantizeQ4_0, Q4_0_BLOCK, Q4_0_BYTES } from './q4-0.js';
export { quantizeQ4_K, dequantizeQ4_K, getScaleMinK4, Q4_K_BLOCK, Q4_K_BYTES } from './q4-k.js';
export { quantizeQ6_K, dequantizeQ6_K, Q6_K_BLOCK, Q6_K_BYTES } from './q6-k.js';
export { quantizeQ8_K, encodeQ8_K, dequantizeQ8_K, Q8_K_BLOCK, Q8_K_BYTES } from './q8-k.js';
export type { Q8KBlocks } from './q8-k.js';
export { nearestInt, roundf } from './rounding.js';

/**
 * Encodes F32 values as `dtype`. The caller quantizes row by row or whole tensors alike: blocks
 * never straddle rows as long as the row length is a multiple of the block size (checked by
 * tensorByteLength); here only the total length must be a block multiple.
 */
export function quantize(dtype: DType, values: Float32Array): Uint8Array {
  switch (dtype) {
    case DType.F32:
      return new Uint8Array(values.slice().buffer);
    case DType.F16:
      return encodeF16(values);
    case DType.BF16:
      return encodeBf16(values);
    case DType.Q8_0:
      return quantizeQ8_0(values);
    case DType.Q4_0:
      return quantizeQ4_0(values);
    case DType.Q4_K:
      return quantizeQ4_K(values);
    case DType.Q6_K:
      return quantizeQ6_K(values);
  }
}

/** Decodes `count` elements stored as `dtype` (bytes must hold at least that many). */
export function dequantize(dtype: DType, bytes: Uint8Array, count: number): Float32Array {
  const info = dtypeInfo(dtype);
  const needed = (count / info.blockSize) * info.blockBytes;
  if (!Number.isInteger(needed) || bytes.length < needed) {
    throw new RangeError(`${info.name}: ${bytes.length} bytes cannot hold ${count} elements`);
  }
  switch (dtype) {
    case DType.F32: {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      return out;
    }
    case DType.F16:
      return decodeF16(bytes, count);
    case DType.BF16:
      return decodeBf16(bytes, count);
    case DType.Q8_0:
      return dequantizeQ8_0(bytes, count);
    case DType.Q4_0:
      return dequantizeQ4_0(bytes, count);
    case DType.Q4_K:
      return dequantizeQ4_K(bytes, count);
    case DType.Q6_K:
      return dequantizeQ6_K(bytes, count);
  }
}
