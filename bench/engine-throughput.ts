// Offline throughput: N requests of random prompt/output lengths at 1, 4, 16, 32 and 64 concurrent
// sequences, kvserve's Engine against llama.cpp decoding the same number of parallel sequences on
// the same GGUF (synthetic s110m, Q8_0 and F16). Output tokens per second, median of repeats.
// Usage: node --import tsx bench/engine-throughput.ts [--dtypes Q8_0,F16] [--levels 1,4,16,32,64] [--repeats 3] [--threads 2]
import { writeFileSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Engine } from '../lib/engine/engine.js';
import { benchModel, type BenchDtype } from './lib/synthetic-models.js';
import { fmt, printTable, summarize, type Summary } from './lib/stats.js';
// @ts-expect-error plain ESM helper without types
import { loadLlamaCpp } from '../scripts/llama-ref.mjs';

const { values } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'Q8_0,F16' },
    levels: { type: 'string', default: '1,4,16,32,64' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'requests-per-level': { type: 'string', default: '2' },
  },
});
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const levels = values.levels.split(',').map(Number);

interface Workload {
  prompts: number[][];
  outputs: number[];
}

function workload(concurrency: number, seed: number): Workload {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const n = Math.max(concurrency * Number(values['requests-per-level']), 4);
  const prompts = Array.from({ length: n }, () => Array.from({ length: 16 + Math.floor(rand() * 113) }, () => 300 + Math.floor(rand() * 31000)));
  const outputs = prompts.map(() => 32 + Math.floor(rand() * 97));
  return { prompts, outputs };
}

async function kvserveRun(engine: Engine, w: Workload): Promise<number> {
  const start = performance.now();
  let tokens = 0;
  await Promise.all(
    w.prompts.map(async (p, i) => {
      for await (const ev of engine.generate({ promptTokenIds: [1, ...p] }, { temperature: 0, maxTokens: w.outputs[i], ignoreEos: true })) {
        if (ev.type === 'final') tokens += ev.tokenIds.length;
      }
    }),
  );
  return tokens / ((performance.now() - start) / 1000);
}

interface LlamaSequence {
  evaluate(tokens: number[], opts: object): AsyncGenerator<number>;
  clearHistory(): Promise<void>;
  dispose(): void;
}

// The context's sequences are taken once and reused by every repeat (history cleared between
// requests): a disposed sequence is not handed back to the context at once, so taking them again per
// repeat fails with "No sequences left".
async function llamaRun(sequences: LlamaSequence[], w: Workload): Promise<number> {
  let next = 0;
  let tokens = 0;
  const start = performance.now();
  await Promise.all(
    sequences.map(async (seq) => {
      for (;;) {
        const i = next++;
        if (i >= w.prompts.length) break;
        let produced = 0;
        const want = w.outputs[i] as number;
        for await (const _ of seq.evaluate([1, ...(w.prompts[i] as number[])], { temperature: 0 })) {
          if (++produced >= want) break;
        }
        tokens += produced;
        await seq.clearHistory();
      }
    }),
  );
  return tokens / ((performance.now() - start) / 1000);
}

const results: Array<{ dtype: string; concurrency: number; kvserve: Summary; llamaCpp: Summary }> = [];
const { llama } = await loadLlamaCpp({ threads });
for (const dtype of values.dtypes.split(',') as BenchDtype[]) {
  const path = await benchModel('s110m', dtype);
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  for (const c of levels) {
    const w = workload(c, 42 + c);
    const engine = await Engine.create({ model: path, threads, maxNumSeqs: c, kvCacheDtype: 'f16', maxNumBatchedTokens: 512 });
    await kvserveRun(engine, workload(Math.min(c, 2), 1)); // warm-up
    const ours: number[] = [];
    for (let r = 0; r < repeats; r++) ours.push(await kvserveRun(engine, w));
    await engine.close();
    // contextSize is per sequence in node-llama-cpp (the KV cache holds sequences x contextSize tokens):
    // 320 covers the longest request (129 prompt + 128 output tokens).
    const context = await model.createContext({ sequences: c, contextSize: 320, batchSize: 512, threads, flashAttention: false, ignoreMemorySafetyChecks: true });
    const sequences = Array.from({ length: c }, () => context.getSequence() as LlamaSequence);
    const theirs: number[] = [];
    for (let r = 0; r < repeats; r++) theirs.push(await llamaRun(sequences, w));
    for (const seq of sequences) seq.dispose();
    await context.dispose();
    const row = { dtype, concurrency: c, kvserve: summarize(ours), llamaCpp: summarize(theirs) };
    results.push(row);
    process.stderr.write(`${dtype} c=${c}: kvserve ${fmt(row.kvserve.median)} tok/s, llama.cpp ${fmt(row.llamaCpp.median)} tok/s\n`);
  }
  await model.dispose();
}

console.log(`\nOffline decode throughput, s110m synthetic llama, ${threads} threads, output tokens/s (median [min-max] of ${repeats})`);
printTable(
  ['model', 'concurrency', 'kvserve', 'llama.cpp', 'ratio'],
  results.map((r) => [
    `s110m ${r.dtype}`,
    String(r.concurrency),
    `${fmt(r.kvserve.median)} [${fmt(r.kvserve.min)}-${fmt(r.kvserve.max)}]`,
    `${fmt(r.llamaCpp.median)} [${fmt(r.llamaCpp.min)}-${fmt(r.llamaCpp.max)}]`,
    `${fmt(r.kvserve.median / r.llamaCpp.median, 2)}x`,
  ]),
);
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/engine-throughput-${Date.now()}.json`, JSON.stringify(results, null, 2));
process.exit(0);
