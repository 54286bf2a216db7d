// One engine (kvserve or llama.cpp) holding one GGUF, driven by bench/first-numbers.ts over IPC: loads,
// warms up, then answers each 'run' with the timings of one single-sequence greedy generation
// (prefill of the prompt in one step, then `numDecode` decode steps). Started with fork(); not meant
// to be run by hand.
import { Engine } from '../lib/engine/engine.js';
import { loadModelSpec } from '../lib/model/load-model-spec.js';
import { loadNativeAddon } from '../lib/native/load.js';
import { nativeModelDescription } from '../lib/native/model-description.js';
import { buildStepInput } from '../lib/runner/build-step-input.js';

export interface RunRequest {
  type: 'run';
}

export interface RunResult {
  type: 'result';
  prefillMs: number;
  decodeMs: number;
  tokenIds: number[];
  /** kvserve only: the same work as bare native Model.step calls (no engine, no scheduler). */
  nativePrefillMs?: number;
  nativeDecodeMs?: number;
}

export interface WorkerArgs {
  engine: 'kvserve' | 'llama.cpp';
  modelPath: string;
  promptTokenIds: number[];
  numDecode: number;
  threads: number;
}

type Runner = { run(): Promise<RunResult>; close(): Promise<void> };

async function kvserveRunner(a: WorkerArgs): Promise<Runner> {
  const numPrompt = a.promptTokenIds.length;
  const maxModelLen = numPrompt + a.numDecode + 16;
  // f16 KV cache on both sides (llama.cpp's default); prefix caching off so every run recomputes the prompt.
  const engine = await Engine.create({
    model: a.modelPath, threads: a.threads, kvCacheDtype: 'f16', maxNumSeqs: 1, maxNumBatchedTokens: Math.max(512, numPrompt),
    maxModelLen, enablePrefixCaching: false,
  });
  const spec = await loadModelSpec(a.modelPath);
  const blockSize = 16;
  const numBlocks = Math.ceil(maxModelLen / blockSize);
  const model = new (loadNativeAddon().Model)(nativeModelDescription(spec, { numBlocks, blockSize, dtype: 'f16' }, a.threads));
  const blockIds = Array.from({ length: numBlocks }, (_, i) => i);
  return {
    async run() {
      const t0 = performance.now();
      let t1 = 0;
      let tokenIds: number[] = [];
      for await (const ev of engine.generate({ promptTokenIds: a.promptTokenIds }, { temperature: 0, maxTokens: 1 + a.numDecode, ignoreEos: true })) {
        if (ev.type === 'delta' && t1 === 0 && ev.tokenIds.length > 0) t1 = performance.now();
        if (ev.type === 'final') tokenIds = ev.tokenIds;
      }
      const t2 = performance.now();
      // Bare native steps: one prefill step, then one step per decoded token, greedy in native.
      const tokens = [...a.promptTokenIds];
      const step = async (start: number, count: number): Promise<void> => {
        const input = buildStepInput([{ tokenIds: tokens, startPosition: start, numScheduledTokens: count, blockIds, sampleThisStep: true }], blockSize);
        tokens.push((await model.step(input)).tokenIds[0]!);
      };
      const n0 = performance.now();
      await step(0, numPrompt);
      const n1 = performance.now();
      for (let i = 0; i < a.numDecode; i++) await step(numPrompt + i, 1);
      const n2 = performance.now();
      return { type: 'result', prefillMs: t1 - t0, decodeMs: t2 - t1, tokenIds, nativePrefillMs: n1 - n0, nativeDecodeMs: n2 - n1 };
    },
    async close() {
      model.close();
      await engine.close();
    },
  };
}

async function llamaCppRunner(a: WorkerArgs): Promise<Runner> {
  // @ts-expect-error plain ESM helper without types
  const { loadLlamaCpp } = (await import('../scripts/llama-ref.mjs')) as { loadLlamaCpp: (o: { threads: number }) => Promise<{ llama: any }> };
  const { llama } = await loadLlamaCpp({ threads: a.threads });
  const model = await llama.loadModel({ modelPath: a.modelPath, gpuLayers: 0, useMmap: true });
  const numPrompt = a.promptTokenIds.length;
  const context = await model.createContext({
    contextSize: numPrompt + a.numDecode + 16,
    batchSize: Math.max(512, numPrompt),
    threads: a.threads,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F16',
    experimentalKvCacheValueType: 'F16',
  });
  const sequence = context.getSequence();
  return {
    async run() {
      await sequence.clearHistory();
      const tokenIds: number[] = [];
      const t0 = performance.now();
      let t1 = 0;
      for await (const token of sequence.evaluate(a.promptTokenIds, { temperature: 0 })) {
        if (tokenIds.length === 0) t1 = performance.now();
        tokenIds.push(token as number);
        if (tokenIds.length === 1 + a.numDecode) break;
      }
      const t2 = performance.now();
      return { type: 'result', prefillMs: t1 - t0, decodeMs: t2 - t1, tokenIds };
    },
    async close() {
      await context.dispose();
      await model.dispose();
    },
  };
}

const args = JSON.parse(process.argv[2] ?? 'null') as WorkerArgs | null;
if (args && process.send) {
  const send = (m: unknown): void => void process.send!(m);
  try {
    const runner = args.engine === 'kvserve' ? await kvserveRunner(args) : await llamaCppRunner(args);
    await runner.run(); // warm-up: page in the weights, JIT, thread pools
    send({ type: 'ready' });
    process.on('message', (m: { type: string }) => {
      if (m.type === 'run') {
        runner.run().then(send, (err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }));
      } else if (m.type === 'exit') {
        void runner.close().finally(() => process.exit(0));
      }
    });
  } catch (err) {
    send({ type: 'error', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  }
}
