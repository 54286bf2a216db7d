// Q4_0: blocks of 32 values = f16 scale d + 16 bytes of nibbles. Byte j holds element j in its
// low nibble and element j+16 in its high nibble; x = d * (nibble - 8).
// quantizeQ4_0 follows ggml's quantize_row_q4_0_ref exactly (d = signed max / -8).
import { readF16, writeF16 } from './half.js';
import { assertBlockMultiple } from './rounding.js';

export const Q4_0_BLOCK = 32;
export const Q4_0_BYTES = 18;

const f = Math.fround;

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  assertBlockMultiple(x.length, Q4_0_BLOCK, 'Q4_0');
  const numBlocks = x.length / Q4_0_BLOCK;
  const out = new Uint8Array(numBlocks * Q4_0_BYTES);
  for (let b = 0; b < numBlocks; b++) {
    const base = b * Q4_0_BLOCK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < Q4_0_BLOCK; j++) {
      const v = x[base + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    const o = b * Q4_0_BYTES;
    writeF16(out, o, d);
    for (let j = 0; j < Q4_0_BLOCK / 2; j++) {
      const x0 = f(x[base + j]! * id);
      const x1 = f(x[base + 16 + j]! * id);
      // (int8_t)(x + 8.5f) truncates toward zero; MIN(15, ...) clamps the top.
      const q0 = Math.min(15, Math.trunc(f(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(x1 + 8.5)));
      out[o + 2 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
    }
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  assertBlockMultiple(count, Q4_0_BLOCK, 'Q4_0');
  const out = new Float32Array(count);
  for (let b = 0; b < count / Q4_0_BLOCK; b++) {
    const o = b * Q4_0_BYTES;
    const d = readF16(bytes, o);
    for (let j = 0; j < Q4_0_BLOCK / 2; j++) {
      const byte = bytes[o + 2 + j]!;
      out[b * Q4_0_BLOCK + j] = ((byte & 0xf) - 8) * d;
      out[b * Q4_0_BLOCK + j + 16] = ((byte >> 4) - 8) * d;
    }
  }
  return out;
}
