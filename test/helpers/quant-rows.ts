// Random valid rows of any weight DType, built directly as bytes (no quantizer needed): random quants
// and packed scale bytes (every byte value is valid), small finite f16 block scales, no f16 NaNs.
import { DType } from '../../lib/model/types.js';
import { BLOCK_BYTES, rowBytes } from '../ops/reference/dequantize.js';

/** Byte offsets of the f16 scales inside one block. */
const F16_FIELDS: Partial<Record<DType, number[]>> = {
  [DType.Q8_0]: [0], [DType.Q4_0]: [0], [DType.Q4_K]: [0, 2], [DType.Q6_K]: [208],
};

/** A random finite f16: |value| in [2^-14, 2^6), sometimes subnormal, either sign. */
export function randomF16Scale(random: () => number): number {
  const exp = random() < 0.1 ? 0 : 1 + Math.floor(random() * 20);
  return (random() < 0.5 ? 0x8000 : 0) | (exp << 10) | Math.floor(random() * 1024);
}

/** A valid row of n elements of `dtype` (n a multiple of the block size). */
export function randomRow(dtype: DType, n: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(rowBytes(dtype, n));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  const view = new DataView(bytes.buffer);
  if (dtype === DType.F16) {
    for (let i = 0; i < n; i++) {
      const h = view.getUint16(2 * i, true);
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) view.setUint16(2 * i, h & 0xfc00, true); // NaN -> inf
    }
  }
  for (const off of F16_FIELDS[dtype] ?? []) {
    for (let b = 0; b < bytes.length; b += BLOCK_BYTES[dtype]) view.setUint16(b + off, randomF16Scale(random), true);
  }
  return bytes;
}
