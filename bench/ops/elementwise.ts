// Element-wise and row ops: achieved GB/s per op and ISA variant (single thread, median of repeated
// runs), next to a plain copy (TypedArray.set) measured in the same run as this machine's reference.
// Bytes counted are the bytes each op must read and write once. Run:
//   node --import tsx bench/ops/elementwise.ts [--quick]
import { DType } from '../../lib/model/types.js';
import { loadNativeAddon } from '../../lib/native/load.js';
import type { IsaName } from '../../lib/native/types.js';

const addon = loadNativeAddon();
const ops = addon.ops;
const ISAS: IsaName[] = addon.cpuInfo.supportedIsas;
const QUICK = process.argv.includes('--quick');
const REPS = QUICK ? 5 : 15;
const MIN_MS = QUICK ? 5 : 25; // each rep repeats the call until this much time has passed

function randomF32(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (Math.random() * 256) | 0;
  return b;
}

/** A valid quantized / half row: random bytes with every f16 block scale set to 0.01 (0x211f). */
function weightRow(dtype: DType, n: number): Uint8Array {
  const layout: Record<DType, [elems: number, bytes: number, f16At: number[]]> = {
    [DType.F32]: [1, 4, []], [DType.F16]: [1, 2, []], [DType.BF16]: [1, 2, []], [DType.Q8_0]: [32, 34, [0]],
    [DType.Q4_0]: [32, 18, [0]], [DType.Q4_K]: [256, 144, [0, 2]], [DType.Q6_K]: [256, 210, [208]],
  };
  const [elems, bytes, f16At] = layout[dtype];
  const row = randomBytes((n / elems) * bytes);
  if (dtype === DType.F16) for (let i = 1; i < row.length; i += 2) row[i] = (row[i] as number) & 0x3b; // finite halves
  if (dtype === DType.F32) new Float32Array(row.buffer).set(randomF32(n));
  const view = new DataView(row.buffer);
  for (let b = 0; b < row.length; b += bytes) for (const at of f16At) view.setUint16(b + at, 0x211f, true);
  return row;
}

/** One sample: seconds per call, repeating fn until MIN_MS have passed. */
function sample(fn: () => void): number {
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  do {
    fn();
    calls++;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < BigInt(MIN_MS) * 1_000_000n);
  return Number(elapsed) / 1e9 / calls;
}

/**
 * Median seconds per call of each fn. Samples are interleaved (fn 0, 1, 2, 0, 1, 2, ...) so a noisy
 * neighbour on a shared machine slows every variant alike instead of skewing one.
 */
function timeAll(fns: Array<() => void>): number[] {
  fns.forEach((fn) => fn()); // warm up
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < REPS; r++) fns.forEach((fn, i) => samples[i]?.push(sample(fn)));
  return samples.map((s) => s.sort((a, b) => a - b)[s.length >> 1] as number);
}

interface Case {
  name: string;
  bytes: number;
  run(isa: IsaName): void;
}

const N = QUICK ? 1 << 20 : 1 << 22; // elements per stream: 16 MiB of f32 (beyond L2, in or past L3)
const cases: Case[] = [];

for (const dtype of [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
  const row = weightRow(dtype, N);
  const out = new Float32Array(N);
  cases.push({ name: `dequantizeRow ${DType[dtype]}`, bytes: row.length + 4 * N, run: (isa) => ops.dequantizeRow(isa, out, row, dtype, N) });
}

{
  const vocab = 32000, dim = 4096, dtype = DType.Q4_K;
  const table = weightRow(dtype, vocab * dim);
  const ids = Int32Array.from({ length: 256 }, () => (Math.random() * vocab) | 0);
  const out = new Float32Array(ids.length * dim);
  const rowBytes = (dim / 256) * 144;
  cases.push({ name: 'embedding Q4_K 256x4096', bytes: ids.length * (rowBytes + 4 * dim), run: (isa) => ops.embedding(isa, out, table, dtype, vocab, dim, ids) });
}

for (const layout of [0, 1] as const) {
  const nTokens = 256, nHeads = 32, headDim = 128;
  const x = randomF32(nTokens * nHeads * headDim);
  const positions = Int32Array.from({ length: nTokens }, (_, i) => i);
  const invFreq = ops.ropeInvFreq(headDim, 500000, null, null);
  cases.push({
    name: `rope ${layout === 0 ? 'norm' : 'neox'} 256x32x128`,
    bytes: 8 * x.length,
    run: (isa) => ops.rope(isa, x, nTokens, nHeads, headDim, headDim, positions, invFreq, 1, layout),
  });
}

{
  const gate = randomF32(N, 8), up = randomF32(N), out = new Float32Array(N);
  cases.push({ name: 'siluMul', bytes: 12 * N, run: (isa) => ops.siluMul(isa, out, gate, up, N) });
  const a = randomF32(N), b = randomF32(N), sum = new Float32Array(N);
  cases.push({ name: 'add', bytes: 12 * N, run: (isa) => ops.add(isa, sum, a, b, N) });
  const cols = 4096, rows = N / cols, bias = randomF32(cols);
  cases.push({ name: `addBias ${rows}x${cols}`, bytes: 8 * N + 4 * cols, run: (isa) => ops.addBias(isa, a, bias, rows, cols) });
  const vocab = 128256, nRows = Math.max(1, Math.floor(N / vocab)), logits = randomF32(nRows * vocab), best = new Int32Array(nRows);
  cases.push({ name: `argmaxRows ${nRows}x${vocab}`, bytes: 4 * logits.length, run: (isa) => ops.argmaxRows(isa, best, logits, nRows, vocab) });
}

const src = randomF32(N), dst = new Float32Array(N);
const copyGBs = (8 * N) / (timeAll([() => dst.set(src)])[0] as number) / 1e9;
console.log(`kvserve element-wise ops, single thread, median of ${REPS} runs; ${addon.cpuInfo.bestIsa} CPU`);
console.log(`reference: TypedArray.set copy of ${(4 * N) / 2 ** 20} MiB: ${copyGBs.toFixed(1)} GB/s (read + write)\n`);
const pad = Math.max(...cases.map((c) => c.name.length)) + 2;
console.log('op'.padEnd(pad) + ISAS.map((isa) => `${isa} GB/s`.padStart(14)).join('') + '   best/copy');
for (const c of cases) {
  const gbs = timeAll(ISAS.map((isa) => () => c.run(isa))).map((t) => c.bytes / t / 1e9);
  console.log(c.name.padEnd(pad) + gbs.map((g) => g.toFixed(1).padStart(14)).join('') + `${(Math.max(...gbs) / copyGBs).toFixed(2).padStart(12)}x`);
}
