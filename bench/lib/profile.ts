// Where a step's native time goes, per op and per layer: steps run on a native Model directly with
// the `profile` flag, for three shapes of work (decode of 1 sequence, decode of N sequences, one
// prefill), and the bench prints the median per-op times next to the machine's limits.
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { loadNativeAddon } from '../../lib/native/load.js';
import { nativeModelDescription } from '../../lib/native/model-description.js';
import type { NativeStepResult } from '../../lib/native/types.js';
import { buildStepInput, type ScheduledSequence } from '../../lib/runner/build-step-input.js';
import { prompt } from './workload.js';

export interface ProfileTask {
  path: string;
  threads: number;
  parallelSeqs: number;
  prefillTokens: number;
  /** Profiled steps per decode scenario (after warm-up steps that are not counted). */
  steps: number;
}

export interface ScenarioProfile {
  name: 'decode1' | 'decodeN' | 'prefill';
  numTokens: number;
  /** Median wall ms of the native step (computeMs). */
  stepMs: number;
  /** Median ns per step of each slot, [numLayers, layerOps.length] and [stepOps.length]: wall time,
   * and the stepping thread's CPU time (robust to other processes sharing the cores). */
  layerNs: number[];
  stepNs: number[];
  layerCpuNs: number[];
  stepCpuNs: number[];
}

export interface ProfileResult {
  layerOps: string[];
  stepOps: string[];
  numLayers: number;
  scenarios: ScenarioProfile[];
}

const BLOCK = 16;

export async function runProfile(task: ProfileTask): Promise<ProfileResult> {
  const spec = await loadModelSpec(task.path);
  const maxLen = Math.max(task.prefillTokens, 64 + task.steps * 2) + BLOCK;
  const blocksPerSeq = Math.ceil(maxLen / BLOCK);
  const numSeqs = Math.max(task.parallelSeqs, 1);
  const model = new (loadNativeAddon().Model)(
    nativeModelDescription(spec, { numBlocks: numSeqs * blocksPerSeq, blockSize: BLOCK, dtype: 'f16' }, task.threads),
  );
  const seqs = Array.from({ length: numSeqs }, (_, i) => ({
    tokens: prompt(48, 7000 + i),
    computed: 0,
    blockIds: Array.from({ length: blocksPerSeq }, (_, b) => i * blocksPerSeq + b),
  }));
  const step = async (which: typeof seqs, profile: boolean): Promise<NativeStepResult> => {
    const scheduled: ScheduledSequence[] = which.map((s) => ({
      tokenIds: s.tokens,
      startPosition: s.computed,
      numScheduledTokens: s.tokens.length - s.computed,
      blockIds: s.blockIds,
      sampleThisStep: true,
    }));
    const result = await model.step({ ...buildStepInput(scheduled, BLOCK), profile });
    which.forEach((s, i) => {
      s.computed = s.tokens.length;
      s.tokens.push(result.tokenIds[i] as number);
    });
    return result;
  };
  const scenarios: ScenarioProfile[] = [];
  let names: { layerOps: string[]; stepOps: string[] } | null = null;
  // Medians per slot: a step where another process took the core for a while does not skew them.
  const median = (v: number[]): number => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? (s[s.length >> 1] as number) : ((s[(s.length >> 1) - 1] as number) + (s[s.length >> 1] as number)) / 2;
  };
  const slots = (results: NativeStepResult[], pick: (p: NonNullable<NativeStepResult['profile']>) => Float64Array): number[] => {
    const first = pick(results[0]!.profile!);
    return Array.from({ length: first.length }, (_, i) => median(results.map((r) => pick(r.profile!)[i] as number)));
  };
  const average = (name: ScenarioProfile['name'], numTokens: number, results: NativeStepResult[]): void => {
    const first = results[0]?.profile;
    if (!first) throw new Error('the native step returned no profile');
    names ??= { layerOps: first.layerOps, stepOps: first.stepOps };
    scenarios.push({
      name,
      numTokens,
      stepMs: median(results.map((r) => r.computeMs)),
      layerNs: slots(results, (p) => p.layerNs),
      stepNs: slots(results, (p) => p.stepNs),
      layerCpuNs: slots(results, (p) => p.layerCpuNs),
      stepCpuNs: slots(results, (p) => p.stepCpuNs),
    });
  };
  try {
    // Prompts of every sequence (not profiled), then decode of the first alone, then all together.
    for (const s of seqs) await step([s], false);
    const one = seqs.slice(0, 1);
    for (let i = 0; i < 3; i++) await step(one, false);
    const r1: NativeStepResult[] = [];
    for (let i = 0; i < task.steps; i++) r1.push(await step(one, true));
    average('decode1', 1, r1);
    if (task.parallelSeqs > 1) {
      const rn: NativeStepResult[] = [];
      await step(seqs, false);
      for (let i = 0; i < Math.max(3, task.steps >> 1); i++) rn.push(await step(seqs, true));
      average('decodeN', numSeqs, rn);
    }
    // Prefill: a fresh sequence reusing sequence 0's blocks (its old KV is simply overwritten).
    // The first one grows the activation buffers and is not counted.
    const fresh = (seed: number) => ({ tokens: prompt(task.prefillTokens, seed), computed: 0, blockIds: seqs[0]!.blockIds });
    await step([fresh(9998)], false);
    const rp: NativeStepResult[] = [];
    for (let i = 0; i < 3; i++) rp.push(await step([fresh(9999 + i)], true));
    average('prefill', task.prefillTokens, rp);
  } finally {
    model.close();
  }
  return { ...names!, numLayers: spec.config.numLayers, scenarios };
}
