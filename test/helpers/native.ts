// The native addon and the kernel variants this CPU can run, for op tests.
import { loadNativeAddon } from '../../lib/native/load.js';
import type { IsaName } from '../../lib/native/types.js';

export const addon = loadNativeAddon();
export const ISAS: IsaName[] = addon.cpuInfo.supportedIsas;

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(n: number, random: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

/** Max |a - b| / (|b| + floor) over all elements; with floor=1 it is an absolute error for small values. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs((a[i] as number) - (b[i] as number)) / (Math.abs(b[i] as number) + floor);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
