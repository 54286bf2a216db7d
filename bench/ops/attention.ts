// Bench for the paged KV cache ops: paged_attention decode (L = 1) over 32 sequences and a 512-token
// prefill, f32 and f16 KV, on every ISA variant and thread count; kv_cache_write for one decode step.
// Decode is memory-bound: it reports KV GB/s streamed (K and V bytes read per call / median time) and the
// ratio to this machine's read bandwidth (memcmp of two 256 MiB buffers) measured in the same run.
// Prefill reports GFLOP/s (4 * heads * head_dim * visible positions), as a share of --fma-peak when given
// (single-core FMA GFLOP/s of this machine, measured separately). Medians of repeated calls, wall time
// and process CPU time (on a shared machine the CPU time is the steadier of the two).
//   node --import tsx bench/ops/attention.ts [--isa avx512,avx2] [--threads 1,2] [--fma-peak 116] [--quick]
import { loadavg } from 'node:os';
import { DType } from '../../lib/model/types.js';
import { loadNativeAddon } from '../../lib/native/load.js';
import type { IsaName } from '../../lib/native/types.js';

const addon = loadNativeAddon();
const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}
const quick = args.includes('--quick');
const isas = (flag('isa')?.split(',') as IsaName[] | undefined) ?? addon.cpuInfo.supportedIsas.slice().reverse();
const threadCounts = (flag('threads') ?? '1,2').split(',').map(Number);
const fmaPeak = Number(flag('fma-peak') ?? NaN);

let seed = 12345;
function random(): number {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 4294967296;
}

interface Timing {
  wall: number; // median seconds
  cpu: number; // median process CPU seconds (all threads)
}

/** Medians of fn over at least `minReps` calls and `minSeconds` (after one warm-up call). */
function measure(fn: () => void, minReps = quick ? 3 : 7, minSeconds = quick ? 0.2 : 1): Timing {
  fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  const start = performance.now();
  while (wall.length < minReps || (performance.now() - start < minSeconds * 1000 && wall.length < 200)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;
  return { wall: median(wall), cpu: median(cpu) };
}

/** Read bandwidth: memcmp of two equal 256 MiB buffers (bytes read per second). */
function readBandwidth(): number {
  const n = 256 << 20;
  const a = Buffer.alloc(n, 1);
  const b = Buffer.alloc(n, 1);
  return (2 * n) / measure(() => a.equals(b), 5, 0.5).wall;
}

interface Setup {
  kCache: Uint8Array; vCache: Uint8Array; numBlocks: number; queryStartLoc: Int32Array; seqLens: Int32Array;
  blockTables: Int32Array; maxBlocksPerSeq: number; numSeqs: number; q: Float32Array; out: Float32Array;
}

const BLOCK = 16;

/** Sequences with (queryLen, contextLen), shuffled block tables, random q and cache contents. */
function setup(seqs: Array<[number, number]>, dtype: DType, nHeads: number, nKvHeads: number, headDim: number): Setup {
  const needed = seqs.map(([, c]) => Math.ceil(c / BLOCK));
  const numBlocks = needed.reduce((a, b) => a + b, 0);
  const ids = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = numBlocks - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
  }
  const maxBlocksPerSeq = Math.max(...needed);
  const blockTables = new Int32Array(seqs.length * maxBlocksPerSeq);
  let next = 0;
  needed.forEach((n, s) => {
    for (let b = 0; b < n; b++) blockTables[s * maxBlocksPerSeq + b] = ids[next++] as number;
  });
  const queryStartLoc = new Int32Array(seqs.length + 1);
  seqs.forEach(([l], i) => (queryStartLoc[i + 1] = (queryStartLoc[i] as number) + l));
  const T = queryStartLoc[seqs.length] as number;
  const elems = numBlocks * nKvHeads * BLOCK * headDim;
  const cache = () => {
    const bytes = new Uint8Array(elems * (dtype === DType.F32 ? 4 : 2));
    if (dtype === DType.F32) {
      const f = new Float32Array(bytes.buffer);
      for (let i = 0; i < elems; i++) f[i] = random() * 2 - 1;
    } else {
      const h = new Uint16Array(bytes.buffer);
      for (let i = 0; i < elems; i++) h[i] = 0x3000 | Math.floor(random() * 0x0fff) | (random() < 0.5 ? 0x8000 : 0);
    }
    return bytes;
  };
  const q = new Float32Array(T * nHeads * headDim);
  for (let i = 0; i < q.length; i++) q[i] = random() * 2 - 1;
  return {
    kCache: cache(), vCache: cache(), numBlocks, queryStartLoc, seqLens: new Int32Array(seqs.map(([, c]) => c)),
    blockTables, maxBlocksPerSeq, numSeqs: seqs.length, q, out: new Float32Array(q.length),
  };
}

function attention(isa: IsaName, s: Setup, dtype: DType, nHeads: number, nKvHeads: number, headDim: number, threads: number) {
  return () => addon.ops.pagedAttention(isa, s.out, s.q, s.kCache, s.vCache, dtype, s.numBlocks, s.queryStartLoc,
    s.seqLens, s.blockTables, s.maxBlocksPerSeq, s.numSeqs, nHeads, nKvHeads, headDim, BLOCK, 1 / Math.sqrt(headDim), threads);
}

const rows: string[][] = [];
const readBw = readBandwidth();
const ms = (t: Timing) => [(t.wall * 1e3).toFixed(3), (t.cpu * 1e3).toFixed(3)];
console.log(`machine: best ISA ${addon.cpuInfo.bestIsa}; read bandwidth ${(readBw / 1e9).toFixed(1)} GB/s (memcmp, 256 MiB); ` +
  `load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

const nHeads = 12;
const headDim = 64;
const dtypes: Array<[string, DType]> = [['f32', DType.F32], ['f16', DType.F16]];
for (const [dtypeName, dtype] of dtypes) {
  const elem = dtype === DType.F32 ? 4 : 2;
  for (const [nKvHeads, ctx] of [[12, 512], [12, 2048], [4, 2048]] as const) {
    if (quick && ctx === 512) continue;
    const s = setup(Array.from({ length: 32 }, () => [1, ctx]), dtype, nHeads, nKvHeads, headDim);
    const kvBytes = 32 * ctx * nKvHeads * headDim * 2 * elem;
    for (const isa of isas) {
      for (const threads of threadCounts) {
        const t = measure(attention(isa, s, dtype, nHeads, nKvHeads, headDim, threads));
        const bw = kvBytes / t.wall;
        rows.push([`decode 32 x ctx ${ctx}, heads ${nHeads}/${nKvHeads}`, dtypeName, isa, String(threads), ...ms(t),
          `${(bw / 1e9).toFixed(1)} GB/s KV`, `${((bw / readBw) * 100).toFixed(0)}% of read bw`]);
      }
    }
  }
  const L = 512;
  const s = setup([[L, L]], dtype, nHeads, nHeads, headDim);
  const flops = 4 * nHeads * headDim * ((L * (L + 1)) / 2);
  for (const isa of isas) {
    for (const threads of threadCounts) {
      const t = measure(attention(isa, s, dtype, nHeads, nHeads, headDim, threads));
      const gflops = flops / t.wall / 1e9;
      rows.push([`prefill ${L} tokens, heads ${nHeads}/${nHeads}`, dtypeName, isa, String(threads), ...ms(t),
        `${gflops.toFixed(1)} GFLOP/s`, Number.isNaN(fmaPeak) ? '' : `${((gflops / (fmaPeak * threads)) * 100).toFixed(0)}% of FMA peak`]);
    }
  }
  // One decode step's cache write: 32 tokens x 12 kv heads x 64, into a 32-sequence cache.
  const numBlocks = 32 * 128;
  const cacheBytes = numBlocks * 12 * BLOCK * headDim * elem;
  const kc = new Uint8Array(cacheBytes);
  const vc = new Uint8Array(cacheBytes);
  const k = new Float32Array(32 * 12 * headDim).map(() => random());
  const slots = new Int32Array(32).map((_, i) => i * 128 * BLOCK + 7);
  for (const isa of isas) {
    const t = measure(() => addon.ops.kvCacheWrite(isa, kc, vc, dtype, numBlocks, k, k, slots, 32, 12, headDim, BLOCK));
    rows.push(['kv_cache_write 32 tokens x 12 heads', dtypeName, isa, '1', ...ms(t),
      `${((2 * k.byteLength) / t.wall / 1e9).toFixed(1)} GB/s in`, '']);
  }
}

const header = ['case', 'kv', 'isa', 'threads', 'wall ms', 'cpu ms', 'throughput', 'vs machine'];
const table = [header, header.map(() => '---'), ...rows];
console.log(table.map((r) => `| ${r.join(' | ')} |`).join('\n'));
