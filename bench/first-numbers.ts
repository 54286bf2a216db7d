// First numbers: single-sequence prefill and decode tokens/s of kvserve and llama.cpp (node-llama-cpp,
// scripts/llama-ref.mjs) on the same GGUF files: stories260K and the synthetic s110m llama (dim 768,
// 12 layers, 12 heads, ffn 2048, vocab 32000: 134M parameters; bench/lib/synthetic-models.ts) in F32,
// F16 and Q8_0.
//
//   node --import tsx bench/first-numbers.ts [--runs N] [--models stories260K,s110m-F32,s110m-F16,s110m-Q8_0] [--threads N] [--decode N] [--prompt N]
//
// Each engine runs in its own process (UV_THREADPOOL_SIZE=1, 2 compute threads each, greedy, f16 KV
// cache on both sides), loads the model once and warms up; then the runs alternate between the two
// engines so a noisy neighbour slows both alike. Prompt: 512 random token ids (stories260K: 384, so
// prompt + 128 decoded tokens fit its trained 512-token context), computed in one step; then 128
// decode steps. kvserve is measured through the Engine; the bare native Model.step time of the same
// work is shown too. Medians of the runs with min-max; JSON lands in bench/results/.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sharedModelsDir } from '../lib/config.js';
import { loadNativeAddon } from '../lib/native/load.js';
import type { RunResult, WorkerArgs } from './first-numbers-worker.js';
import { summarize, type Summary } from './lib/stats.js';
import { BENCH_SHAPES, benchModel } from './lib/synthetic-models.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    models: { type: 'string' },
    threads: { type: 'string', default: '2' },
    decode: { type: 'string', default: '128' },
    prompt: { type: 'string', default: '512' },
  },
});
const THREADS = Number(values.threads);
const RUNS = Number(values.runs);
const NUM_DECODE = Number(values.decode);
const NUM_PROMPT = Number(values.prompt);

interface BenchModel {
  name: string;
  path: () => Promise<string>;
  vocabSize: number;
  /** Longest prompt that leaves room for the decoded tokens. */
  maxContext: number;
}

const MODELS: BenchModel[] = [
  { name: 'stories260K', path: async () => join(sharedModelsDir(), 'stories260K', 'stories260K.gguf'), vocabSize: 512, maxContext: 512 },
  ...(['F32', 'F16', 'Q8_0'] as const).map((dtype) => ({
    name: `s110m-${dtype}`,
    path: () => benchModel('s110m', dtype),
    vocabSize: BENCH_SHAPES.s110m.vocabSize,
    maxContext: 4096,
  })),
];

/** Deterministic prompt of ordinary (non-special) token ids. */
function promptIds(length: number, vocabSize: number): number[] {
  let state = 12345;
  return Array.from({ length }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return 3 + (state % (vocabSize - 3));
  });
}

class Worker {
  private readonly child: ChildProcess;
  private pending: ((m: any) => void) | null = null;
  private readonly ready: Promise<void>;

  constructor(args: WorkerArgs) {
    this.child = fork(join(root, 'bench', 'first-numbers-worker.ts'), [JSON.stringify(args)], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    });
    this.ready = new Promise((resolveReady, reject) => {
      this.pending = (m) => (m.type === 'ready' ? resolveReady() : reject(new Error(`${args.engine}: ${m.message}`)));
    });
    this.child.on('message', (m) => {
      const p = this.pending;
      this.pending = null;
      p?.(m);
    });
    this.child.on('exit', (code) => this.pending?.({ type: 'error', message: `worker exited with ${code}` }));
  }

  async run(): Promise<RunResult> {
    await this.ready;
    const m = await new Promise<any>((resolveRun) => {
      this.pending = resolveRun;
      this.child.send({ type: 'run' });
    });
    if (m.type !== 'result') throw new Error(m.message);
    return m as RunResult;
  }

  async start(): Promise<void> {
    await this.ready;
  }

  async exit(): Promise<void> {
    await new Promise<void>((done) => {
      this.child.once('exit', () => done());
      this.child.send({ type: 'exit' });
    });
  }
}

interface ModelResult {
  model: string;
  promptTokens: number;
  decodeTokens: number;
  kvserve: { prefill: Summary; decode: Summary; nativePrefill: Summary; nativeDecode: Summary };
  llamaCpp: { prefill: Summary; decode: Summary };
  /** Index of the first generated token where the two engines differ, or null when all agree. */
  firstTokenDifference: number | null;
}

async function measure(m: BenchModel): Promise<ModelResult> {
  const numPrompt = Math.min(NUM_PROMPT, m.maxContext - NUM_DECODE);
  const base = { modelPath: await m.path(), promptTokenIds: promptIds(numPrompt, m.vocabSize), numDecode: NUM_DECODE, threads: THREADS };
  const kv = new Worker({ ...base, engine: 'kvserve' });
  const lc = new Worker({ ...base, engine: 'llama.cpp' });
  try {
    await Promise.all([kv.start(), lc.start()]);
    const kvRuns: RunResult[] = [];
    const lcRuns: RunResult[] = [];
    for (let r = 0; r < RUNS; r++) {
      // Alternate which engine goes first.
      for (const w of r % 2 === 0 ? [kv, lc] : [lc, kv]) (w === kv ? kvRuns : lcRuns).push(await w.run());
      process.stderr.write(`${m.name}: run ${r + 1}/${RUNS}\n`);
    }
    const rate = (tokens: number, ms: (x: RunResult) => number) => (runs: RunResult[]) => summarize(runs.map((x) => (tokens * 1000) / ms(x)));
    const prefill = rate(numPrompt, (x) => x.prefillMs);
    const decode = rate(NUM_DECODE, (x) => x.decodeMs);
    const a = kvRuns[0]!.tokenIds;
    const b = lcRuns[0]!.tokenIds;
    const diff = a.findIndex((id, i) => id !== b[i]);
    return {
      model: m.name,
      promptTokens: numPrompt,
      decodeTokens: NUM_DECODE,
      kvserve: {
        prefill: prefill(kvRuns),
        decode: decode(kvRuns),
        nativePrefill: rate(numPrompt, (x) => x.nativePrefillMs!)(kvRuns),
        nativeDecode: rate(NUM_DECODE, (x) => x.nativeDecodeMs!)(kvRuns),
      },
      llamaCpp: { prefill: prefill(lcRuns), decode: decode(lcRuns) },
      firstTokenDifference: diff < 0 ? null : diff,
    };
  } finally {
    await Promise.allSettled([kv.exit(), lc.exit()]);
  }
}

function fmt(s: Summary): string {
  const n = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `${n(s.median)} (${n(s.min)}–${n(s.max)})`;
}

function table(results: ModelResult[]): string {
  const lines = [
    '| model | prompt | kvserve prefill tok/s | llama.cpp prefill tok/s | ratio | kvserve decode tok/s | llama.cpp decode tok/s | ratio | native step prefill / decode tok/s | same tokens |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.model} | ${r.promptTokens} | ${fmt(r.kvserve.prefill)} | ${fmt(r.llamaCpp.prefill)} | ${(r.kvserve.prefill.median / r.llamaCpp.prefill.median).toFixed(2)} | ` +
        `${fmt(r.kvserve.decode)} | ${fmt(r.llamaCpp.decode)} | ${(r.kvserve.decode.median / r.llamaCpp.decode.median).toFixed(2)} | ` +
        `${r.kvserve.nativePrefill.median.toFixed(0)} / ${r.kvserve.nativeDecode.median.toFixed(0)} | ` +
        `${r.firstTokenDifference === null ? `all ${r.decodeTokens + 1}` : `first ${r.firstTokenDifference}`} |`,
    );
  }
  return lines.join('\n');
}

const only = values.models?.split(',');
const selected = only ? MODELS.filter((m) => only.includes(m.name)) : MODELS;
const started = new Date();
const load = loadavg();
const results: ModelResult[] = [];
for (const m of selected) results.push(await measure(m));
const header =
  `kvserve vs llama.cpp (node-llama-cpp), ${THREADS} threads each, greedy, f16 KV cache, median (min–max) of ${RUNS} runs; ` +
  `CPU: ${cpus()[0]?.model ?? '?'} x${cpus().length}, kvserve ISA ${loadNativeAddon().cpuInfo.bestIsa}; ` +
  `load average before: ${load.map((v) => v.toFixed(2)).join(' ')}, after: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`;
console.log(`${header}\n\n${table(results)}`);
const outDir = join(root, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `first-numbers-${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(outFile, `${JSON.stringify({ date: started.toISOString(), header, runs: RUNS, threads: THREADS, results }, null, 2)}\n`);
console.log(`\nsaved ${outFile}`);
