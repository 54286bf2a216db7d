// Bench of the sample op: median microseconds per row for rows 1 and 32 x vocab 32000, greedy and
// top-p sampling (plus plain temperature and top-k for context), on every ISA this CPU runs.
// GB/s is logits bytes / time: each row is read a few times (sanitize+max, sum of exp, the race or
// top-p pass), all from L2 at this size, so it measures the kernel, not DRAM.
//   node --import tsx bench/ops/sample.ts [--threads N] [--iters N]
import { loadNativeAddon } from '../../lib/native/load.js';
import { packSampleParams, type SampleRowParams } from '../../lib/runner/sample-params-packing.js';

const addon = loadNativeAddon();
const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const THREADS = flag('threads', 2);
const ITERS = flag('iters', 200);
const VOCAB = 32000;

// Peaked like an LM's logits: gaussian background (sd 1.5) plus a dozen strong tokens.
function lmLikeLogits(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const random = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = 1.5 * Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
  }
  for (let j = 0; j < 12; j++) out[Math.floor(random() * n)] = 6 + 6 * random();
  return out;
}

const CONFIGS: Array<[string, Partial<SampleRowParams>]> = [
  ['greedy', { temperature: 0 }],
  ['top-p 0.9, T 0.8', { temperature: 0.8, topP: 0.9 }],
  ['T 1, no filter', { temperature: 1 }],
  ['top-k 40, T 0.7', { temperature: 0.7, topK: 40 }],
  ['min-p 0.05', { minP: 0.05 }],
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function bench(isa: (typeof addon.cpuInfo.supportedIsas)[number], rows: number, params: Partial<SampleRowParams>, threads: number): number {
  const logits = new Float32Array(rows * VOCAB);
  for (let r = 0; r < rows; r++) logits.set(lmLikeLogits(VOCAB, 17 + r), r * VOCAB);
  const packed = packSampleParams(Array.from({ length: rows }, (_, r) => ({ ...params, seed: 7 + r, counter: 0 })));
  const ids = new Int32Array(rows), lps = new Float32Array(rows), none = new Int32Array(0), noneF = new Float32Array(0);
  const run = (): void =>
    addon.ops.sample(isa, ids, lps, none, noneF, 0, logits, rows, VOCAB, packed, none, none, noneF, threads);
  for (let i = 0; i < 20; i++) run();
  const times: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    // A new counter per call, as in decoding; it changes the draw, not the work.
    for (let r = 0; r < rows; r++) packed[r * 15 + 8] = i;
    const t0 = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return median(times) / rows;
}

console.log(`sample bench: vocab ${VOCAB}, ${ITERS} iterations, median us per row (GB/s of logits per row)`);
for (const isa of addon.cpuInfo.supportedIsas) {
  for (const rows of [1, 32]) {
    const threads = rows === 1 ? 1 : THREADS;
    for (const [name, params] of CONFIGS) {
      const us = bench(isa, rows, params, threads);
      const gbs = (VOCAB * 4) / (us * 1e3);
      console.log(`${isa.padEnd(8)} rows ${String(rows).padStart(2)} threads ${threads}  ${name.padEnd(18)} ${us.toFixed(2).padStart(8)} us/row  ${gbs.toFixed(1).padStart(6)} GB/s`);
    }
  }
}
