// This machine's limits, measured with the native probes (native/ops/probe): read bandwidth (the
// bound of single-sequence decode), f32 FMA and int8 dot-product throughput (the bounds of batched
// decode and prefill). Best of several runs: on a shared machine the median understates them. Each
// probe also reports its rate per thread CPU second (while the thread ran): the compute peaks use that
// (other processes taking the cores for a while do not lower what the units do), and so does the
// 1-thread read rate; the N-thread read rate is wall-clock only, since threads share the bandwidth.
import { cpus, loadavg } from 'node:os';
import { loadNativeAddon } from '../../lib/native/load.js';
import type { IsaName } from '../../lib/native/types.js';

export interface MachineLimits {
  cpu: string;
  isa: IsaName;
  threads: number;
  /** Best read GB/s with 1 thread and with `threads` threads, and the larger of the two. */
  readGBs1: number;
  readGBsN: number;
  readGBs: number;
  /** Best f32 FMA GFLOP/s and int8 dot-product GOP/s (2 per multiply-add) on `threads` threads. */
  fmaF32Gflops: number;
  dotI8Gops: number;
  loadAverage: number[];
  runs: { read1: number[]; read1Cpu: number[]; readN: number[]; fma: number[]; dot: number[] };
}

export function measureMachine(threads: number, runs: number): MachineLimits {
  const addon = loadNativeAddon();
  const isa = addon.cpuInfo.bestIsa;
  const read = (t: number): { wall: number; cpu: number } => {
    const r = addon.ops.probeRead(isa, t, 128 * 2 ** 20, 2);  // 128 MiB per thread: far past the caches
    return { wall: r.bytes / r.seconds / 1e9, cpu: r.cpuRate / 1e9 };
  };
  const compute = (kind: 'fma_f32' | 'dot_i8'): number => addon.ops.probeCompute(isa, kind, threads, 4_000_000).cpuRate / 1e9;
  const rec = { read1: [] as number[], read1Cpu: [] as number[], readN: [] as number[], fma: [] as number[], dot: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const one = read(1);
    rec.read1.push(one.wall);
    rec.read1Cpu.push(one.cpu);
    if (threads > 1) rec.readN.push(read(threads).wall);
    rec.fma.push(compute('fma_f32'));
    rec.dot.push(compute('dot_i8'));
  }
  const best = (v: number[]): number => (v.length ? Math.max(...v) : NaN);
  const readGBs1 = Math.max(best(rec.read1), best(rec.read1Cpu));
  const readGBsN = threads > 1 ? best(rec.readN) : readGBs1;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    isa,
    threads,
    readGBs1,
    readGBsN,
    readGBs: Math.max(readGBs1, readGBsN),
    fmaF32Gflops: best(rec.fma),
    dotI8Gops: best(rec.dot),
    loadAverage: loadavg(),
    runs: rec,
  };
}
