// Q6_K: super-blocks of 256 values = 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits),
// 16 int8 scales (one per 16 values), f16 d. x = d * scale * (q - 32), q in [0, 63].
// Dequantization follows ggml's dequantize_row_q6_K exactly; the quantizer mirrors
// quantize_row_q6_K_ref's packing with a plain max-abs scale per 16 values (ggml additionally
// refines each scale).
import { readF16, writeF16 } from './half.js';
import { assertBlockMultiple, nearestInt } from './rounding.js';

export const Q6_K_BLOCK = 256;
export const Q6_K_BYTES = 210;

const f = Math.fround;
const QL = 0;
const QH = 128;
const SCALES = 192;
const D = 208;

export function quantizeQ6_K(x: Float32Array): Uint8Array {
  assertBlockMultiple(x.length, Q6_K_BLOCK, 'Q6_K');
  const numBlocks = x.length / Q6_K_BLOCK;
  const out = new Uint8Array(numBlocks * Q6_K_BYTES);
  const scales = new Float32Array(16);
  const levels = new Uint8Array(Q6_K_BLOCK);
  for (let b = 0; b < numBlocks; b++) {
    const base = b * Q6_K_BLOCK;
    const o = b * Q6_K_BYTES;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      let amax = 0;
      let max = 0;
      for (let l = 0; l < 16; l++) {
        const v = x[base + 16 * ib + l]!;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      // The signed extreme maps to -32, the end of the range that has room for it.
      const scale = amax === 0 ? 0 : f(max / -32);
      scales[ib] = scale;
      if (Math.abs(scale) > maxAbsScale) {
        maxAbsScale = Math.abs(scale);
        maxScale = scale;
      }
    }
    if (maxAbsScale < 1e-15) continue; // all-zero block: every byte 0, d = +0
    const iscale = f(-128 / maxScale);
    writeF16(out, o + D, f(1 / iscale));
    for (let ib = 0; ib < 16; ib++) {
      out[o + SCALES + ib] = Math.min(127, nearestInt(f(iscale * scales[ib]!))) & 0xff;
    }
    const d = readF16(out, o + D);
    levels.fill(32);
    for (let ib = 0; ib < 16; ib++) {
      const sc = (out[o + SCALES + ib]! << 24) >> 24;
      const dj = f(d * sc);
      if (dj === 0) continue;
      for (let l = 0; l < 16; l++) {
        const q = nearestInt(f(x[base + 16 * ib + l]! / dj));
        levels[16 * ib + l] = Math.max(-32, Math.min(31, q)) + 32;
      }
    }
    for (let half = 0; half < 2; half++) {
      const L = 128 * half;
      const ql = o + QL + 64 * half;
      const qh = o + QH + 32 * half;
      for (let l = 0; l < 32; l++) {
        const q1 = levels[L + l]!;
        const q2 = levels[L + l + 32]!;
        const q3 = levels[L + l + 64]!;
        const q4 = levels[L + l + 96]!;
        out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return out;
}

export function dequantizeQ6_K(bytes: Uint8Array, count: number): Float32Array {
  assertBlockMultiple(count, Q6_K_BLOCK, 'Q6_K');
  const out = new Float32Array(count);
  for (let b = 0; b < count / Q6_K_BLOCK; b++) {
    const o = b * Q6_K_BYTES;
    const d = readF16(bytes, o + D);
    for (let half = 0; half < 2; half++) {
      const ql = o + QL + 64 * half;
      const qh = o + QH + 32 * half;
      const sc = o + SCALES + 8 * half;
      const y = b * Q6_K_BLOCK + 128 * half;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l]!;
        const q1 = ((bytes[ql + l]! & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s = (i: number): number => (bytes[sc + is + i]! << 24) >> 24;
        out[y + l] = f(d * s(0)) * q1;
        out[y + l + 32] = f(d * s(2)) * q2;
        out[y + l + 64] = f(d * s(4)) * q3;
        out[y + l + 96] = f(d * s(6)) * q4;
      }
    }
  }
  return out;
}
