// matmul bench: the linear layers of a 110M llama (dim 768, ffn 2048, vocab 32000) for every weight type,
// with the weights as mapped (unpacked) and in the variant's packed layout where it has one.
//   m = 1 (decode) is memory bound: reports weight bytes streamed per second (GB/s);
//   m = 32 / 128 (prefill, batched decode) is compute bound: reports GFLOP/s (2 m n k per call).
// Reference points measured in the same run by the native probes (bench/lib/machine.ts): read
// bandwidth, and the f32 FMA / int8 dot-product peak of one thread (float / quantized weights).
// Usage: node --import tsx bench/ops/matmul.ts [--isa avx512|avx2|portable] [--quick]
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadNativeAddon } from '../../lib/native/load.js';
import type { IsaName } from '../../lib/native/types.js';
import { DType } from '../../lib/model/types.js';
import { measureMachine } from '../lib/machine.js';

const addon = loadNativeAddon();
const argv = process.argv.slice(2);
const isaArg = argv.indexOf('--isa');
const isa = (isaArg >= 0 ? argv[isaArg + 1] : addon.cpuInfo.bestIsa) as IsaName;
const quick = argv.includes('--quick');

const DTYPES: Array<[DType, string, blockElems: number, blockBytes: number]> = [
  [DType.F32, 'F32', 1, 4], [DType.F16, 'F16', 1, 2], [DType.BF16, 'BF16', 1, 2], [DType.Q8_0, 'Q8_0', 32, 34],
  [DType.Q4_0, 'Q4_0', 32, 18], [DType.Q4_K, 'Q4_K', 256, 144], [DType.Q6_K, 'Q6_K', 256, 210],
];
const SHAPES: Array<[n: number, k: number, what: string]> = [
  [768, 768, 'attn q/k/v/o'], [2048, 768, 'ffn gate/up'], [768, 2048, 'ffn down'], [32000, 768, 'lm head'],
];
const MS = [1, 32, 128];
const THREADS = [1, 2];

let seed = 12345;
function random(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
}

/** Valid weights: small random values for plain types; random quants with small fp16 scales for blocks. */
function makeWeights(dtype: DType, n: number, k: number, blockElems: number, blockBytes: number): Uint8Array {
  const bytes = new Uint8Array((n * k / blockElems) * blockBytes);
  if (dtype === DType.F32) {
    const f = new Float32Array(bytes.buffer);
    for (let i = 0; i < f.length; i++) f[i] = (random() - 0.5) * 0.1;
  } else if (dtype === DType.F16 || dtype === DType.BF16) {
    const h = new Uint16Array(bytes.buffer);
    // sign, exponent near 2^-4, random mantissa: normal numbers only (no denormal slow paths)
    for (let i = 0; i < h.length; i++) {
      const r = Math.floor(random() * 65536);
      h[i] = dtype === DType.F16 ? (r & 0x83ff) | 0x2c00 : (r & 0x807f) | 0x3d80;
    }
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    const scaleAt = dtype === DType.Q6_K ? [208] : dtype === DType.Q4_K ? [0, 2] : [0];
    for (let b = 0; b < bytes.length; b += blockBytes) {
      for (const o of scaleAt) {
        bytes[b + o] = 0x00;
        bytes[b + o + 1] = 0x1c; // fp16 0.0039
      }
    }
  }
  return bytes;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Median wall seconds and median process CPU seconds per call: at least 5 timed calls, more until
 * ~0.3 s (quick: 3 calls). CPU time / threads stays meaningful when other processes share the cores.
 */
function timeCall(fn: () => void): { wall: number; cpu: number } {
  fn();
  fn(); // warm-up: scratch, pool, caches
  const walls: number[] = [];
  const cpus: number[] = [];
  const budget = quick ? 0 : 0.3;
  let total = 0;
  while (walls.length < (quick ? 3 : 5) || (total < budget && walls.length < 200)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    walls.push(dt);
    cpus.push((c.user + c.system) / 1e6);
    total += dt;
  }
  return { wall: median(walls), cpu: median(cpus) };
}

const machine = measureMachine(1, quick ? 2 : 4);
const bw = machine.readGBs;
const peak = (dtype: DType): number => (dtype === DType.F32 || dtype === DType.F16 || dtype === DType.BF16 ? machine.fmaF32Gflops : machine.dotI8Gops);
const load = (): string => loadavg().map((v) => v.toFixed(1)).join(' ');
console.log(`kvserve matmul bench  isa=${isa}  cpus=${availableParallelism()}  node=${process.version}  load average ${load()}`);
console.log(`reference (1 thread, best of runs): read ${bw.toFixed(1)} GB/s; f32 FMA ${machine.fmaF32Gflops.toFixed(0)} GFLOP/s; int8 dot ${machine.dotI8Gops.toFixed(0)} GOP/s`);
console.log('m=1 reports weight GB/s (and % of the read bandwidth); m>1 reports GFLOP/s (and % of the f32 FMA or int8 dot peak of the threads used)');
console.log('wall: median wall-clock time; cpu: the same from median process CPU time / threads (robust to other load)');
console.log('');
const header = ['dtype', 'layout', 'n x k', 'layer', 'm', 'thr', 'wall ms', 'wall', '% ref', 'cpu ms/thr', 'cpu', '% ref'];
const rows: string[][] = [];

for (const [dtype, name, blockElems, blockBytes] of DTYPES) {
  for (const [n, k, what] of SHAPES) {
    const w = makeWeights(dtype, n, k, blockElems, blockBytes);
    const packed = addon.ops.matmulPack(isa, w, dtype, n, k);
    for (const layout of packed ? ['packed', 'mapped'] : ['mapped']) {
      for (const m of MS) {
        const x = new Float32Array(m * k);
        for (let i = 0; i < x.length; i++) x[i] = random() * 2 - 1;
        const out = new Float32Array(m * n);
        for (const threads of THREADS) {
          const p = layout === 'packed' ? (packed as Uint8Array) : undefined;
          const { wall, cpu } = timeCall(() => addon.ops.matmul(isa, out, x, w, dtype, n, k, null, m, threads, p));
          const cells = [wall, cpu / threads].flatMap((t) => {
            if (m === 1) {
              const gbs = w.length / t / 1e9;
              return [(t * 1e3).toFixed(3), `${gbs.toFixed(1)} GB/s`, ((100 * gbs) / bw).toFixed(0)];
            }
            const gflops = (2 * m * n * k) / t / 1e9;
            return [(t * 1e3).toFixed(3), `${gflops.toFixed(1)} GFLOP/s`, ((100 * gflops) / (peak(dtype) * threads)).toFixed(0)];
          });
          rows.push([name, layout, `${n}x${k}`, what, String(m), String(threads), ...cells]);
          process.stdout.write('.');
        }
      }
    }
  }
}
process.stdout.write('\n');
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const fmt = (r: string[]): string => r.map((c, i) => (i >= 4 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));
console.log(`load average at the end: ${load()} (other processes on these cores slow the wall-clock rows, 2 threads most)`);
