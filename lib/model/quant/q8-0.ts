// Q8_0: blocks of 32 values = f16 scale d + 32 int8 quants; x = d * q.
// quantizeQ8_0 is ggml's quantize_row_q8_0_ref, which is also how ggml's generic CPU path
// quantizes activations for Q8_0 dot products (d = amax/127, q = roundf(x * (1/d))).
import { readF16, writeF16 } from './half.js';
import { assertBlockMultiple, roundf } from './rounding.js';

export const Q8_0_BLOCK = 32;
export const Q8_0_BYTES = 34;

const f = Math.fround;

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  assertBlockMultiple(x.length, Q8_0_BLOCK, 'Q8_0');
  const numBlocks = x.length / Q8_0_BLOCK;
  const out = new Uint8Array(numBlocks * Q8_0_BYTES);
  for (let b = 0; b < numBlocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(x[base + j]!));
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    const o = b * Q8_0_BYTES;
    writeF16(out, o, d);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      out[o + 2 + j] = roundf(f(x[base + j]! * id)) & 0xff;
    }
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  assertBlockMultiple(count, Q8_0_BLOCK, 'Q8_0');
  const out = new Float32Array(count);
  for (let b = 0; b < count / Q8_0_BLOCK; b++) {
    const o = b * Q8_0_BYTES;
    const d = readF16(bytes, o);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const q = (bytes[o + 2 + j]! << 24) >> 24;
      out[b * Q8_0_BLOCK + j] = d * q;
    }
  }
  return out;
}
