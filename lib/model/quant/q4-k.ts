// Q4_K: super-blocks of 256 values = f16 d, f16 dmin, 12 bytes of packed 6-bit (scale, min) pairs
// for 8 sub-blocks of 32, then 128 bytes of nibbles. Within each 64-value group, byte l holds
// element l (low nibble) and element l+32 (high nibble). x = d*sc*q - dmin*m.
// Dequantization follows ggml's dequantize_row_q4_K exactly. The quantizer is a plain min/max
// quantizer (ggml's reference additionally searches the scale); it produces valid blocks with the
// same packing as quantize_row_q4_K_ref.
import { readF16, writeF16 } from './half.js';
import { assertBlockMultiple, nearestInt } from './rounding.js';

export const Q4_K_BLOCK = 256;
export const Q4_K_BYTES = 144;

const f = Math.fround;

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes. */
export function getScaleMinK4(j: number, scales: Uint8Array, at: number): [number, number] {
  if (j < 4) return [scales[at + j]! & 63, scales[at + j + 4]! & 63];
  const sc = (scales[at + j + 4]! & 0xf) | ((scales[at + j - 4]! >> 6) << 4);
  const m = (scales[at + j + 4]! >> 4) | ((scales[at + j]! >> 6) << 4);
  return [sc, m];
}

export function quantizeQ4_K(x: Float32Array): Uint8Array {
  assertBlockMultiple(x.length, Q4_K_BLOCK, 'Q4_K');
  const numBlocks = x.length / Q4_K_BLOCK;
  const out = new Uint8Array(numBlocks * Q4_K_BYTES);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  const levels = new Uint8Array(Q4_K_BLOCK);
  for (let b = 0; b < numBlocks; b++) {
    const base = b * Q4_K_BLOCK;
    const o = b * Q4_K_BYTES;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = x[base + 32 * j + l]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      // Like ggml, the offset is only ever subtracted: a positive minimum is clamped to 0.
      if (lo > 0) lo = 0;
      scales[j] = f((hi - lo) / 15);
      mins[j] = -lo;
      maxScale = Math.max(maxScale, scales[j]!);
      maxMin = Math.max(maxMin, mins[j]!);
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const packed = out.subarray(o + 4, o + 16);
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)));
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)));
      if (j < 4) {
        packed[j] = ls;
        packed[j + 4] = lm;
      } else {
        packed[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        packed[j - 4]! |= (ls >> 4) << 6;
        packed[j]! |= (lm >> 4) << 6;
      }
    }
    writeF16(out, o, f(maxScale / 63));
    writeF16(out, o + 2, f(maxMin / 63));
    const d = readF16(out, o);
    const dmin = readF16(out, o + 2);
    levels.fill(0);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = getScaleMinK4(j, packed, 0);
      const dj = f(d * sc);
      if (dj === 0) continue;
      const dm = f(dmin * m);
      for (let l = 0; l < 32; l++) {
        const q = nearestInt(f(f(x[base + 32 * j + l]! + dm) / dj));
        levels[32 * j + l] = Math.max(0, Math.min(15, q));
      }
    }
    for (let g = 0; g < 4; g++) {
      for (let l = 0; l < 32; l++) {
        out[o + 16 + 32 * g + l] = levels[64 * g + l]! | (levels[64 * g + 32 + l]! << 4);
      }
    }
  }
  return out;
}

export function dequantizeQ4_K(bytes: Uint8Array, count: number): Float32Array {
  assertBlockMultiple(count, Q4_K_BLOCK, 'Q4_K');
  const out = new Float32Array(count);
  for (let b = 0; b < count / Q4_K_BLOCK; b++) {
    const o = b * Q4_K_BYTES;
    const d = readF16(bytes, o);
    const dmin = readF16(bytes, o + 2);
    let y = b * Q4_K_BLOCK;
    for (let g = 0; g < 4; g++) {
      const [sc1, m1] = getScaleMinK4(2 * g, bytes, o + 4);
      const [sc2, m2] = getScaleMinK4(2 * g + 1, bytes, o + 4);
      const d1 = f(d * sc1);
      const min1 = f(dmin * m1);
      const d2 = f(d * sc2);
      const min2 = f(dmin * m2);
      const q = o + 16 + 32 * g;
      for (let l = 0; l < 32; l++) out[y + l] = f(d1 * (bytes[q + l]! & 0xf)) - min1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = f(d2 * (bytes[q + l]! >> 4)) - min2;
      y += 64;
    }
  }
  return out;
}
