// Bench worker: runs one WorkerTask (bench/lib/workload.ts) on llama.cpp through node-llama-cpp
// (scripts/llama-ref.mjs; CPU build, `threads` threads, greedy, F16 KV cache as llama.cpp defaults)
// and prints `RESULT <json>` as its last stdout line. Same prompts and clock rules as the kvserve worker.
import { parallelRate, prefillRate, prompt, stamp, streamRate, type Rate, type Stamp, type WorkerResult, type WorkerTask } from '../lib/workload.js';
// @ts-expect-error plain ESM helper without types
import { loadLlamaCpp } from '../../scripts/llama-ref.mjs';

interface Sequence {
  evaluate(tokens: number[], options: object): AsyncGenerator<number>;
  clearHistory(): Promise<void>;
  dispose(): Promise<void> | void;
}
interface Context {
  getSequence(): Sequence;
  dispose(): Promise<void>;
}
interface Model {
  createContext(options: object): Promise<Context>;
  dispose(): Promise<void>;
}

/** When the first `count` generated tokens arrived; stops early once `until` (wall ms) has passed. */
async function tokenTimes(seq: Sequence, ids: number[], count: number, until = Infinity): Promise<Stamp[]> {
  const times: Stamp[] = [];
  if (count <= 0) return times;
  for await (const _ of seq.evaluate(ids, { temperature: 0 })) {
    const now = stamp();
    times.push(now);
    if (times.length >= count || (now.t > until && times.length >= 4)) break;
  }
  return times;
}

async function measure(task: WorkerTask): Promise<WorkerResult> {
  const { llama } = await loadLlamaCpp({ threads: task.threads });
  const model = (await llama.loadModel({ modelPath: task.path, gpuLayers: 0, useMmap: true })) as Model;
  try {
    const single = await model.createContext({
      contextSize: Math.max(1024, task.prefillTokens + 64),
      batchSize: Math.max(512, task.prefillTokens),
      threads: task.threads,
      flashAttention: false,
    });
    const seq = single.getSequence();
    await tokenTimes(seq, prompt(8, task.seed + 99), 4); // warm-up, as for kvserve
    await seq.clearHistory();
    const deadline = (): number => performance.now() + task.budgetS * 1000;
    const none: Rate = { wall: NaN, cpu: NaN };
    const decode1 = task.decodeTokens > 0 ? streamRate(await tokenTimes(seq, prompt(16, task.seed + 1), task.decodeTokens, deadline()), task.threads) : none;
    await seq.clearHistory();
    let prefill = none;
    if (task.prefillTokens > 0) {
      const before = stamp();
      const first = await tokenTimes(seq, prompt(task.prefillTokens, task.seed + 2), 1);
      prefill = prefillRate(task.prefillTokens, before, first[0] as Stamp, task.threads);
    }
    await single.dispose();
    const result = (decodeN: Rate): WorkerResult => ({
      decode1: decode1.wall,
      prefill: prefill.wall,
      decodeN: decodeN.wall,
      cpu: { decode1: decode1.cpu, prefill: prefill.cpu, decodeN: decodeN.cpu },
    });
    if (task.parallelSeqs <= 0 || task.parallelTokens <= 0) return result(none);

    const perSeq = 16 + task.parallelTokens + 8;
    const ctx = await model.createContext({
      sequences: task.parallelSeqs,
      contextSize: task.parallelSeqs * perSeq,
      batchSize: 512,
      threads: task.threads,
      flashAttention: false,
    });
    const seqs = Array.from({ length: task.parallelSeqs }, () => ctx.getSequence());
    const until = deadline();
    const streams = await Promise.all(seqs.map((s, i) => tokenTimes(s, prompt(16, task.seed * 1000 + 10 + i), task.parallelTokens, until)));
    await ctx.dispose();
    return result(parallelRate(streams, task.threads));
  } finally {
    await model.dispose();
  }
}

const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
const result = await measure(task);
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
