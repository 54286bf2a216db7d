// `npm run bench`: issue 5's target table in one command. Measures this machine's limits (read
// bandwidth, f32 FMA and int8 dot-product peaks), writes the synthetic models (s110m, q0.5b; F32,
// F16, Q8_0, Q4_K), runs kvserve and llama.cpp (node-llama-cpp, same GGUF, same prompts, same thread
// count) on every measure, alternating which goes first, one process per run; prints one table
// (median [min-max] over repeats, ratio, % of the machine's limit, targets) and a per-op profile of
// kvserve's steps, and saves everything as JSON under bench/results/.
//
// Usage: npm run bench -- [--quick] [--only s110m,Q8_0,decode1,...] [--repeats 3] [--threads 2] [--no-llama]
//   --quick     s110m only, 1 repeat, shorter runs (a few minutes)
//   --only      comma list; model names (s110m, q0.5b), weight types (F32, F16, Q8_0, Q4_K) and
//               measures (decode1, prefill, decodeN, overhead, prefix, serve, profile) each narrow the run
//   --no-llama  kvserve only (no llama.cpp runs, no ratios)
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureMachine, type MachineLimits } from './lib/machine.js';
import type { ProfileResult, ProfileTask } from './lib/profile.js';
import { matmulSeconds, printProfile } from './lib/profile-report.js';
import { modelRows, printRows, type ModelRuns, type Row } from './lib/report.js';
import { fmt, summarize } from './lib/stats.js';
import { BENCH_DTYPES, BENCH_SHAPE_NAMES, benchModel, tokenCost, type BenchDtype, type BenchShape } from './lib/synthetic-models.js';
import type { EngineName, WorkerResult, WorkerTask } from './lib/workload.js';
import type { ServeLevel, ServeTask } from './workers/serve.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: '' },
    repeats: { type: 'string' },
    threads: { type: 'string', default: '2' },
    'no-llama': { type: 'boolean', default: false },
  },
});
const quick = args.quick;
const threads = Number(args.threads);
const repeats = Number(args.repeats ?? (quick ? 1 : 3));
const only = args.only.split(',').map((s) => s.trim()).filter(Boolean);
const MEASURES = ['decode1', 'prefill', 'decodeN', 'overhead', 'prefix', 'serve', 'profile'] as const;
type Measure = (typeof MEASURES)[number];
const pick = <T extends string>(all: readonly T[], fallback: readonly T[]): T[] => {
  const chosen = all.filter((x) => only.includes(x));
  return chosen.length ? chosen : [...fallback];
};
const shapes = pick<BenchShape>(BENCH_SHAPE_NAMES, quick ? ['s110m'] : BENCH_SHAPE_NAMES);
const dtypes = pick<BenchDtype>(BENCH_DTYPES, BENCH_DTYPES);
const measures = new Set(pick<Measure>(MEASURES, MEASURES));
const unknown = only.filter((x) => ![...BENCH_SHAPE_NAMES, ...BENCH_DTYPES, ...MEASURES].includes(x as never));
if (unknown.length) {
  console.error(`--only: unknown ${unknown.join(', ')}; expected model names (${BENCH_SHAPE_NAMES.join(', ')}), weight types (${BENCH_DTYPES.join(', ')}) or measures (${MEASURES.join(', ')})`);
  process.exit(2);
}
const engines: EngineName[] = args['no-llama'] ? ['kvserve'] : ['kvserve', 'llama.cpp'];
const PARALLEL = 32;
const PREFILL = 512;
const PREFIX = 1024;
const SERVE_INPUT = 64;
const SERVE_LEVELS = [1, 4, 16, 32];
// The engine-level rows are measured on the model the serving targets name.
const SERVING_MODEL = { shape: 's110m' as BenchShape, dtype: 'Q8_0' as BenchDtype };

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const load = (): string => loadavg().map((v) => v.toFixed(1)).join(' ');

/** Runs a worker in its own process; returns what it printed after `RESULT `. */
function runWorker<T>(engine: EngineName | 'profile' | 'serve', task: object): Promise<T> {
  const file = join(root, 'bench', 'workers', engine === 'llama.cpp' ? 'llama-cpp.ts' : engine === 'serve' ? 'serve.ts' : 'kvserve.ts');
  // llama.cpp runs at its best setting: one libuv thread, so node-llama-cpp's compute threads are
  // not oversubscribed (see /work/shared/reference/llama-cpp-baseline.md). kvserve runs as users run it.
  const env = engine === 'llama.cpp' ? { ...process.env, UV_THREADPOOL_SIZE: '1' } : process.env;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, JSON.stringify(task)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30 * 60 * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolvePromise(JSON.parse(line.slice(7)) as T);
      else reject(new Error(`${engine} worker exited with ${code}:\n${err.split('\n').slice(-15).join('\n')}`));
    });
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`kvserve bench: models ${shapes.join(', ')}; types ${dtypes.join(', ')}; measures ${[...measures].join(', ')}; ${repeats} repeat(s); ${threads} threads; load average ${load()}`);
  log('measuring this machine (read bandwidth, f32 FMA, int8 dot product; best of several runs)...');
  const machine: MachineLimits = measureMachine(threads, quick ? 3 : 5);
  log(`  read ${fmt(machine.readGBs1)} GB/s (1 thread), ${fmt(machine.readGBsN)} GB/s (${threads}); f32 FMA ${fmt(machine.fmaF32Gflops, 0)} GFLOP/s; int8 dot ${fmt(machine.dotI8Gops, 0)} GOP/s (${threads} threads)`);

  const decodeTokens = measures.has('decode1') ? (quick ? 32 : 64) : 0;
  const prefillTokens = measures.has('prefill') ? PREFILL : 0;
  const parallelTokens = measures.has('decodeN') || measures.has('overhead') ? (quick ? 16 : 32) : 0;
  const runsByModel: ModelRuns[] = [];
  const paths = new Map<string, string>();
  for (const shape of shapes) for (const dtype of dtypes) paths.set(`${shape} ${dtype}`, await benchModel(shape, dtype));
  for (const shape of shapes) for (const dtype of dtypes) runsByModel.push({ shape, dtype, cost: tokenCost(shape, dtype), kvserve: [], llamaCpp: [] });

  const timed = decodeTokens > 0 || prefillTokens > 0 || parallelTokens > 0 || measures.has('prefix');
  // The prefix row alone is kvserve's only.
  const onlyPrefix = decodeTokens === 0 && prefillTokens === 0 && parallelTokens === 0;
  const total = timed ? repeats * runsByModel.length * (onlyPrefix ? 1 : engines.length) : 0;
  let done = 0;
  for (let rep = 0; rep < repeats && timed; rep++) {
    for (const m of runsByModel) {
      const order = onlyPrefix ? (['kvserve'] as EngineName[]) : rep % 2 === 0 ? engines : [...engines].reverse();
      for (const engine of order) {
        const serving = m.shape === SERVING_MODEL.shape && m.dtype === SERVING_MODEL.dtype && engine === 'kvserve';
        const task: WorkerTask = {
          engine,
          shape: m.shape,
          dtype: m.dtype,
          path: paths.get(`${m.shape} ${m.dtype}`) as string,
          threads,
          seed: 1 + rep,
          decodeTokens,
          budgetS: quick ? 15 : 30,
          prefillTokens,
          parallelSeqs: parallelTokens > 0 ? PARALLEL : 0,
          parallelTokens,
          ...(serving && measures.has('overhead') ? { engineOverhead: true } : {}),
          ...(serving && measures.has('prefix') ? { prefixTokens: PREFIX } : {}),
        };
        const t0 = performance.now();
        try {
          const r = await runWorker<WorkerResult>(engine, task);
          (engine === 'kvserve' ? m.kvserve : m.llamaCpp).push(r);
          done++;
          log(`[${done}/${total}] ${m.shape} ${m.dtype} ${engine} #${rep + 1}: decode1 ${fmt(r.decode1)}, prefill ${fmt(r.prefill)}, decode${PARALLEL} ${fmt(r.decodeN)} tok/s (${fmt((performance.now() - t0) / 1000, 0)} s, load ${load()})`);
        } catch (err) {
          done++;
          log(`[${done}/${total}] ${m.shape} ${m.dtype} ${engine} #${rep + 1} FAILED: ${(err as Error).message}`);
        }
      }
    }
  }

  // HTTP serving: `kvserve serve` in its own process, loaded by `kvserve bench serve`'s runner.
  const serveRuns: ServeLevel[][] = [];
  const servingIncluded = shapes.includes(SERVING_MODEL.shape) && dtypes.includes(SERVING_MODEL.dtype);
  if (measures.has('serve') && servingIncluded) {
    for (let rep = 0; rep < repeats; rep++) {
      const task: ServeTask = {
        path: paths.get(`${SERVING_MODEL.shape} ${SERVING_MODEL.dtype}`) as string,
        threads,
        // The throughput target reads 1 and 32; the inter-token latency target holds at every level.
        concurrencies: SERVE_LEVELS,
        // A short prompt and a longer answer (a chat turn): output throughput is what scales with
        // concurrency; the prompts still arrive while other streams decode.
        inputLen: SERVE_INPUT,
        outputLen: quick ? 64 : 128,
        durationS: quick ? 10 : 20,
      };
      const t0 = performance.now();
      try {
        const levels = await runWorker<ServeLevel[]>('serve', task);
        serveRuns.push(levels);
        log(`serve #${rep + 1}: ${levels.map((l) => `c=${l.concurrency} ${fmt(l.outputTokensPerS)} tok/s, ITL median ${fmt(l.medianItlMs)} p99 ${fmt(l.p99ItlMs)} ms`).join('; ')} (${fmt((performance.now() - t0) / 1000, 0)} s)`);
      } catch (err) {
        log(`serve #${rep + 1} FAILED: ${(err as Error).message}`);
      }
    }
  }

  const profiles: Array<{ shape: BenchShape; dtype: BenchDtype; profile: ProfileResult }> = [];
  if (measures.has('profile')) {
    for (const m of runsByModel) {
      const task: ProfileTask & { kind: 'profile' } = {
        kind: 'profile',
        path: paths.get(`${m.shape} ${m.dtype}`) as string,
        threads,
        parallelSeqs: PARALLEL,
        prefillTokens: PREFILL,
        steps: quick ? 8 : 16,
      };
      log(`profiling ${m.shape} ${m.dtype}...`);
      try {
        const profile = await runWorker<ProfileResult>('profile', task);
        profiles.push({ shape: m.shape, dtype: m.dtype, profile });
        const decodeN = profile.scenarios.find((s) => s.name === 'decodeN');
        if (decodeN) m.decodeNMatmulSeconds = matmulSeconds(profile, decodeN);
      } catch (err) {
        log(`profile of ${m.shape} ${m.dtype} FAILED: ${(err as Error).message}`);
      }
    }
  }

  // ---- report ----
  const rows: Row[] = runsByModel.flatMap((m) => modelRows(m, machine, PARALLEL, PREFILL));
  const serving = runsByModel.find((m) => m.shape === SERVING_MODEL.shape && m.dtype === SERVING_MODEL.dtype);
  const engineRows: string[] = [];
  if (serving) {
    const over = serving.kvserve.map((r) => r.overhead).filter((o) => o !== undefined);
    if (over.length) {
      const frac = summarize(over.map((o) => 100 * o.outsideComputeFraction));
      const lag = summarize(over.map((o) => o.loopLagP99Ms));
      engineRows.push(`engine overhead (${serving.shape} ${serving.dtype}, ${PARALLEL} seqs): time outside native compute ${fmt(frac.median, 2)}% [${fmt(frac.min, 2)}-${fmt(frac.max, 2)}] of a ${fmt(over[0]!.stepMs, 1)} ms step (target <= 3%: ${frac.median <= 3 ? 'met' : 'NOT MET'})`);
      engineRows.push(`event-loop lag p99 under ${PARALLEL}-stream load: ${fmt(lag.median, 1)} ms [${fmt(lag.min, 1)}-${fmt(lag.max, 1)}] (target < 20 ms: ${lag.median < 20 ? 'met' : 'NOT MET'})`);
    }
    const prefix = serving.kvserve.map((r) => r.prefix).filter((p) => p !== undefined);
    if (prefix.length) {
      const ratio = summarize(prefix.map((p) => p.ttftUncachedMs / p.ttftCachedMs));
      const cached = summarize(prefix.map((p) => p.ttftCachedMs));
      const uncached = summarize(prefix.map((p) => p.ttftUncachedMs));
      engineRows.push(`shared ${PREFIX}-token prefix, new request (${serving.shape} ${serving.dtype}): TTFT ${fmt(cached.median, 1)} ms cached vs ${fmt(uncached.median, 1)} ms uncached = ${fmt(ratio.median, 1)}x lower [${fmt(ratio.min, 1)}-${fmt(ratio.max, 1)}] (target >= 10x: ${ratio.median >= 10 ? 'met' : 'NOT MET'})`);
    }
  }
  if (serveRuns.length) {
    const level = (runs: ServeLevel[], c: number): ServeLevel | undefined => runs.find((l) => l.concurrency === c);
    const ratio = summarize(serveRuns.map((r) => (level(r, PARALLEL)?.outputTokensPerS ?? NaN) / (level(r, 1)?.outputTokensPerS ?? NaN)));
    const one = summarize(serveRuns.map((r) => level(r, 1)?.outputTokensPerS ?? NaN));
    const many = summarize(serveRuns.map((r) => level(r, PARALLEL)?.outputTokensPerS ?? NaN));
    engineRows.push(`HTTP serving (kvserve serve + bench serve runner, ${SERVING_MODEL.shape} ${SERVING_MODEL.dtype}, ${SERVE_INPUT}-token prompts, ${quick ? 64 : 128} output tokens): output ${fmt(one.median)} tok/s at concurrency 1, ${fmt(many.median)} at ${PARALLEL} = ${fmt(ratio.median, 2)}x [${fmt(ratio.min, 2)}-${fmt(ratio.max, 2)}] (target >= 6x: ${ratio.median >= 6 ? 'met' : 'NOT MET'})`);
    for (const c of SERVE_LEVELS) {
      const med = summarize(serveRuns.map((r) => level(r, c)?.medianItlMs ?? NaN));
      const p99 = summarize(serveRuns.map((r) => level(r, c)?.p99ItlMs ?? NaN));
      const rel = p99.median / med.median;
      engineRows.push(`  concurrency ${c}: inter-token latency median ${fmt(med.median, 1)} ms, p99 ${fmt(p99.median, 1)} ms = ${fmt(rel, 2)}x the median (target <= 2x: ${rel <= 2 ? 'met' : 'NOT MET'})`);
    }
  } else {
    engineRows.push(`HTTP serving: not measured in this run (needs the 'serve' measure and ${SERVING_MODEL.shape} ${SERVING_MODEL.dtype}).`);
  }

  console.log(`\nkvserve vs llama.cpp — ${machine.cpu}, ${threads} threads, isa ${machine.isa}; load average at start ${machine.loadAverage.map((v) => v.toFixed(1)).join(' ')}, at end ${load()}`);
  console.log(`machine limits (best of runs): read ${fmt(machine.readGBs)} GB/s (1 thread ${fmt(machine.readGBs1)}, ${threads} threads ${fmt(machine.readGBsN)}), f32 FMA ${fmt(machine.fmaF32Gflops, 0)} GFLOP/s, int8 dot ${fmt(machine.dotI8Gops, 0)} GOP/s`);
  console.log(`tokens/s, median [min-max] of ${repeats} run(s); % of limit: decode 1 seq = weight bytes per token x tok/s / read bandwidth; prefill and ${PARALLEL}-seq decode = 2 x linear-layer MACs x tok/s / compute peak`);
  console.log(`cpu columns: the same medians over process CPU time / ${threads} (what each engine did while it had the cores; on a busy machine wall time also counts waiting for one)`);
  console.log('');
  printRows(rows);
  console.log('');
  for (const line of engineRows) console.log(line);

  for (const p of profiles) {
    const quantized = p.dtype !== 'F32' && p.dtype !== 'F16';
    printProfile(`profile: ${p.shape} ${p.dtype}, native step, ${threads} threads (median per step; cpu = the stepping thread's CPU time; layer ops summed over ${p.profile.numLayers} layers)`, p.profile, tokenCost(p.shape, p.dtype), quantized, machine, p === profiles[0]);
  }

  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ args, machine, threads, repeats, models: runsByModel, rows, engineRows, serve: serveRuns, profiles, seconds: (Date.now() - started) / 1000 }, null, 2));
  console.log(`\nsaved ${file} (${fmt((Date.now() - started) / 1000, 0)} s)`);
}

await main();
process.exit(0);
