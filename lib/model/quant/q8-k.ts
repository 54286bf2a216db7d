// Q8_K: the activation format ggml pairs with K-quant weights. Blocks of 256 values =
// float32 d, 256 int8 quants, 16 int16 sums of each run of 16 quants (ggml's block_q8_K, 292
// bytes). quantizeQ8_K is ggml's quantize_row_q8_K_ref: iscale = -127/max where max is the
// signed value of largest magnitude, q = min(127, nearest_int(iscale*x)), d = 1/iscale.
import { assertBlockMultiple, nearestInt } from './rounding.js';

export const Q8_K_BLOCK = 256;
export const Q8_K_BYTES = 292;

const f = Math.fround;

export interface Q8KBlocks {
  /** One scale per block. */
  d: Float32Array;
  /** 256 quants per block. */
  qs: Int8Array;
  /** 16 sums per block. */
  bsums: Int16Array;
}

export function quantizeQ8_K(x: Float32Array): Q8KBlocks {
  assertBlockMultiple(x.length, Q8_K_BLOCK, 'Q8_K');
  const numBlocks = x.length / Q8_K_BLOCK;
  const d = new Float32Array(numBlocks);
  const qs = new Int8Array(x.length);
  const bsums = new Int16Array(numBlocks * 16);
  for (let b = 0; b < numBlocks; b++) {
    const base = b * Q8_K_BLOCK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < Q8_K_BLOCK; j++) {
      const ax = Math.abs(x[base + j]!);
      if (ax > amax) {
        amax = ax;
        max = x[base + j]!;
      }
    }
    if (amax === 0) continue; // d = 0, quants and sums 0
    const iscale = f(-127 / max);
    for (let j = 0; j < Q8_K_BLOCK; j++) {
      qs[base + j] = Math.min(127, nearestInt(f(iscale * x[base + j]!)));
    }
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let l = 0; l < 16; l++) sum += qs[base + 16 * j + l]!;
      bsums[b * 16 + j] = sum;
    }
    d[b] = f(1 / iscale);
  }
  return { d, qs, bsums };
}

/** The blocks in ggml's in-memory block_q8_K layout (little-endian). */
export function encodeQ8_K(blocks: Q8KBlocks): Uint8Array {
  const numBlocks = blocks.d.length;
  const out = new Uint8Array(numBlocks * Q8_K_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < numBlocks; b++) {
    const o = b * Q8_K_BYTES;
    view.setFloat32(o, blocks.d[b]!, true);
    out.set(new Uint8Array(blocks.qs.buffer, blocks.qs.byteOffset + b * 256, 256), o + 4);
    for (let j = 0; j < 16; j++) view.setInt16(o + 260 + 2 * j, blocks.bsums[b * 16 + j]!, true);
  }
  return out;
}

export function dequantizeQ8_K(blocks: Q8KBlocks): Float32Array {
  const out = new Float32Array(blocks.qs.length);
  for (let i = 0; i < out.length; i++) out[i] = blocks.d[i >> 8]! * blocks.qs[i]!;
  return out;
}
