// Bench worker: runs one WorkerTask (bench/lib/workload.ts) on kvserve's Engine in this process and
// prints `RESULT <json>` as its last stdout line. Started by bench/run-all.ts, one process per task.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../../lib/engine/engine.js';
import type { NativeModel, NativeStepInput, NativeStepResult } from '../../lib/native/types.js';
import { parallelRate, prefillRate, prompt, stamp, streamRate, type Rate, type Stamp, type WorkerResult, type WorkerTask } from '../lib/workload.js';
import { runProfile, type ProfileTask } from '../lib/profile.js';

type Task = (WorkerTask & { kind?: 'measure' }) | (ProfileTask & { kind: 'profile' });

/** When the tokens of one request arrived; stops (aborting it) once `until` (wall ms) has passed. */
async function tokenTimes(engine: Engine, ids: number[], maxTokens: number, until = Infinity): Promise<Stamp[]> {
  const times: Stamp[] = [];
  for await (const ev of engine.generate({ promptTokenIds: ids }, { temperature: 0, maxTokens, ignoreEos: true })) {
    if (ev.type !== 'delta') continue;
    const now = stamp();
    for (let i = 0; i < ev.tokenIds.length; i++) times.push(now);
    if (now.t > until && times.length >= 4) break;
  }
  return times;
}

/** Stamps before the request and at its first token. */
async function firstToken(engine: Engine, ids: number[]): Promise<[Stamp, Stamp]> {
  const before = stamp();
  const times = await tokenTimes(engine, ids, 1);
  return [before, times[0] as Stamp];
}

async function ttft(engine: Engine, ids: number[]): Promise<number> {
  const [before, first] = await firstToken(engine, ids);
  return first.t - before.t;
}

interface StepRecord {
  end: number;
  computeMs: number;
  numTokens: number;
}

/** Wraps the engine's native step to record when each step's result arrived and its native time. */
function recordSteps(engine: Engine): { records: StepRecord[]; restore: () => void } {
  const model = (engine as unknown as { model: NativeModel }).model;
  const original = model.step;
  const records: StepRecord[] = [];
  const timed = async (input: NativeStepInput): Promise<NativeStepResult> => {
    const result = await original.call(model, input);
    records.push({ end: performance.now(), computeMs: result.computeMs, numTokens: input.tokenIds.length });
    return result;
  };
  // The addon's methods are read-only prototype properties: shadow it with an own property.
  Object.defineProperty(model, 'step', { value: timed, configurable: true, writable: true });
  return { records, restore: () => void delete (model as { step?: unknown }).step };
}

async function measure(task: WorkerTask): Promise<WorkerResult> {
  const engine = await Engine.create({
    model: task.path,
    threads: task.threads,
    maxNumSeqs: Math.max(64, task.parallelSeqs),
    kvCacheDtype: 'f16',
    kvCacheMemory: '512MiB',
  });
  try {
    await tokenTimes(engine, prompt(8, task.seed + 99), 4); // warm-up: page in the weights, grow buffers
    const deadline = (): number => performance.now() + task.budgetS * 1000;
    const none: Rate = { wall: NaN, cpu: NaN };
    const decode1 = task.decodeTokens > 0 ? streamRate(await tokenTimes(engine, prompt(16, task.seed + 1), task.decodeTokens, deadline()), task.threads) : none;
    const prefill = task.prefillTokens > 0
      ? prefillRate(task.prefillTokens, ...(await firstToken(engine, prompt(task.prefillTokens, task.seed + 2))), task.threads)
      : none;

    if (task.parallelSeqs > 0 && task.parallelTokens > 0) {
      // The batched path warmed as a running server's is: JIT-compiled, and the garbage of the model
      // load collected, so the steps measured below are steady-state steps.
      await Promise.all(Array.from({ length: task.parallelSeqs }, (_, i) => tokenTimes(engine, prompt(16, task.seed * 1000 + 500 + i), 8)));
    }
    const rec = task.engineOverhead ? recordSteps(engine) : null;
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const until = deadline();
    const streams = task.parallelSeqs > 0 && task.parallelTokens > 0
      ? await Promise.all(
          Array.from({ length: task.parallelSeqs }, (_, i) => tokenTimes(engine, prompt(16, task.seed * 1000 + 10 + i), task.parallelTokens, until)),
        )
      : [];
    lag.disable();
    rec?.restore();
    const decodeN = streams.length ? parallelRate(streams, task.threads) : none;
    const result: WorkerResult = {
      decode1: decode1.wall,
      prefill: prefill.wall,
      decodeN: decodeN.wall,
      cpu: { decode1: decode1.cpu, prefill: prefill.cpu, decodeN: decodeN.cpu },
    };
    if (rec) {
      // Runs of steps where every sequence decodes: between the ends of a run's first and last step,
      // the native steps after the first computed for the sum of their computeMs; the rest of that
      // wall time is the engine's overhead. (Ends, not starts: with async scheduling a step is handed
      // over while the one before it still runs, so its call time says nothing of when it started.)
      let interval = 0, compute = 0, n = 0;
      const r = rec.records;
      for (let i = 0; i + 1 < r.length; i++) {
        const s = r[i] as StepRecord;
        const next = r[i + 1] as StepRecord;
        if (s.numTokens !== task.parallelSeqs || next.numTokens !== task.parallelSeqs) continue;
        interval += next.end - s.end;
        compute += next.computeMs;
        n++;
      }
      result.overhead = {
        outsideComputeFraction: n ? 1 - compute / interval : NaN,
        stepMs: n ? interval / n : NaN,
        computeMs: n ? compute / n : NaN,
        loopLagP99Ms: lag.percentile(99) / 1e6,
        steps: n,
      };
    }
    if (task.prefixTokens) {
      const prefix = prompt(task.prefixTokens, task.seed + 5);
      const suffix = (k: number): number[] => prompt(17, task.seed + 50 + k).slice(1);
      await ttft(engine, [...prefix, ...suffix(0)]); // fills the cache with the prefix's blocks
      const ttftCachedMs = await ttft(engine, [...prefix, ...suffix(1)]);
      // A prefix never seen: the full prompt is computed, as without prefix caching.
      const ttftUncachedMs = await ttft(engine, [...prompt(task.prefixTokens, task.seed + 6), ...suffix(2)]);
      result.prefix = { ttftCachedMs, ttftUncachedMs };
    }
    return result;
  } finally {
    await engine.close();
  }
}

const task = JSON.parse(process.argv[2] ?? '{}') as Task;
const result = task.kind === 'profile' ? await runProfile(task) : await measure(task);
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
