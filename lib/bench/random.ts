// Seeded randomness for reproducible benchmark workloads.

/** mulberry32: a small, fast 32-bit generator; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exponentially distributed gap (seconds) between Poisson arrivals at `ratePerSecond`. */
export function exponentialGap(random: () => number, ratePerSecond: number): number {
  if (!Number.isFinite(ratePerSecond)) return 0;
  return -Math.log(1 - random()) / ratePerSecond;
}
