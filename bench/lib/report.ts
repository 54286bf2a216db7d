// The issue-5 target table: one row per measure and model, kvserve against llama.cpp measured in the
// same run, the ratio, the share of this machine's limit, and whether each target is met.
import type { MachineLimits } from './machine.js';
import { fmt, summarize, type Summary } from './stats.js';
import type { BenchDtype, BenchShape, TokenCost } from './synthetic-models.js';
import type { WorkerResult } from './workload.js';

export interface ModelRuns {
  shape: BenchShape;
  dtype: BenchDtype;
  cost: TokenCost;
  kvserve: WorkerResult[];
  llamaCpp: WorkerResult[];
  /** Matmul share of a profiled decode step of N sequences: seconds of matmul per step. */
  decodeNMatmulSeconds?: number;
}

export interface Row {
  measure: string;
  model: string;
  kvserve: Summary | null;
  llamaCpp: Summary | null;
  unit: string;
  ratio: number;
  ratioTarget: number | null;
  /** Share of the machine's limit (0..1) and its target. */
  limit: number;
  limitTarget: number | null;
  limitName: string;
  met: boolean | null;
  /** The same measure over CPU time / threads (WorkerResult.cpu): medians, their ratio, share of the limit. */
  cpu?: { kvserve: number; llamaCpp: number; ratio: number; limit: number };
  note?: string;
}

const isFloat = (d: BenchDtype): boolean => d === 'F32' || d === 'F16';

function values(runs: WorkerResult[], pick: (r: WorkerResult) => number | undefined): Summary | null {
  const v = runs.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? summarize(v) : null;
}

function verdict(ratio: number, ratioTarget: number | null, limit: number, limitTarget: number | null): boolean | null {
  if (ratioTarget === null && limitTarget === null) return null;
  const okRatio = ratioTarget === null || (Number.isFinite(ratio) && ratio >= ratioTarget);
  const okLimit = limitTarget === null || (Number.isFinite(limit) && limit >= limitTarget);
  return okRatio && okLimit;
}

export function modelRows(m: ModelRuns, machine: MachineLimits, parallelSeqs: number, prefillTokens: number): Row[] {
  const rows: Row[] = [];
  const model = `${m.shape} ${m.dtype}`;
  const computePeak = isFloat(m.dtype) ? machine.fmaF32Gflops : machine.dotI8Gops;
  const peakName = isFloat(m.dtype) ? 'f32 FMA peak' : 'int8 dot peak';
  type Key = 'decode1' | 'prefill' | 'decodeN';
  const add = (measure: string, key: Key, ratioTarget: number | null, limitOf: (tps: number) => number, limitTarget: number | null, limitName: string): void => {
    const ours = values(m.kvserve, (r) => r[key]);
    const theirs = values(m.llamaCpp, (r) => r[key]);
    if (!ours && !theirs) return;
    const ratio = ours && theirs ? ours.median / theirs.median : NaN;
    const limit = ours ? limitOf(ours.median) : NaN;
    const ourCpu = values(m.kvserve, (r) => r.cpu?.[key])?.median ?? NaN;
    const theirCpu = values(m.llamaCpp, (r) => r.cpu?.[key])?.median ?? NaN;
    const cpu = { kvserve: ourCpu, llamaCpp: theirCpu, ratio: ourCpu / theirCpu, limit: limitOf(ourCpu) };
    rows.push({ measure, model, kvserve: ours, llamaCpp: theirs, unit: 'tok/s', ratio, ratioTarget, limit, limitTarget, limitName, met: verdict(ratio, ratioTarget, limit, limitTarget), cpu });
  };
  const bandwidthShare = (tps: number): number => (tps * m.cost.weightBytes) / (machine.readGBs * 1e9);
  const computeShare = (tps: number): number => (tps * 2 * m.cost.macs) / (computePeak * 1e9);
  add('decode, 1 seq', 'decode1', isFloat(m.dtype) ? 1.0 : 1.25, bandwidthShare, isFloat(m.dtype) ? 0.9 : 0.85, 'read bandwidth');
  add(`prefill ${prefillTokens}`, 'prefill', isFloat(m.dtype) ? 1.5 : m.dtype === 'Q8_0' ? 1.25 : null, computeShare, null, peakName);
  add(`decode, ${parallelSeqs} seqs`, 'decodeN', isFloat(m.dtype) ? 2.5 : m.dtype === 'Q8_0' ? 3 : null, computeShare, null, peakName);
  if (m.decodeNMatmulSeconds !== undefined) {
    const flops = 2 * m.cost.macs * parallelSeqs;
    const share = flops / m.decodeNMatmulSeconds / (computePeak * 1e9);
    rows.push({
      measure: `matmul in ${parallelSeqs}-seq decode`,
      model,
      kvserve: summarize([flops / m.decodeNMatmulSeconds / 1e9]),
      llamaCpp: null,
      unit: 'GFLOP/s',
      ratio: NaN,
      ratioTarget: null,
      limit: share,
      limitTarget: 0.6,
      limitName: peakName,
      met: share >= 0.6,
      note: 'from the profile',
    });
  }
  return rows;
}

export function printRows(rows: Row[]): void {
  const range = (s: Summary | null): string => (s ? `${fmt(s.median)} [${fmt(s.min)}-${fmt(s.max)}]` : '-');
  const cells = rows.map((r) => [
    r.measure,
    r.model,
    `${range(r.kvserve)} ${r.unit}`,
    r.llamaCpp ? range(r.llamaCpp) : '-',
    Number.isFinite(r.ratio) ? `${fmt(r.ratio, 2)}x` : '-',
    r.ratioTarget !== null ? `>=${r.ratioTarget}x` : '-',
    Number.isFinite(r.limit) ? `${fmt(100 * r.limit, 0)}% ${r.limitName}` : '-',
    r.limitTarget !== null ? `>=${fmt(100 * r.limitTarget, 0)}%` : '-',
    r.met === null ? '' : r.met ? 'met' : 'NOT MET',
    r.cpu && Number.isFinite(r.cpu.kvserve) ? fmt(r.cpu.kvserve) : '',
    r.cpu && Number.isFinite(r.cpu.llamaCpp) ? fmt(r.cpu.llamaCpp) : '',
    r.cpu && Number.isFinite(r.cpu.ratio) ? `${fmt(r.cpu.ratio, 2)}x` : '',
    r.cpu && Number.isFinite(r.cpu.limit) ? `${fmt(100 * r.cpu.limit, 0)}%` : '',
    r.note ?? '',
  ]);
  const header = ['measure', 'model', 'kvserve median [min-max]', 'llama.cpp', 'ratio', 'target', '% of limit', 'target', '',
    'cpu: kvserve', 'llama.cpp', 'ratio', '% limit', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]): string => c.map((x, i) => (i < 2 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}
