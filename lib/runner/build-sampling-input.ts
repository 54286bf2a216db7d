// Per-row sampling arrays for one step: one packed SampleParams row per sampled request, the token
// histories the penalties need, and the logit biases (native/ops/sample/sample.h).
import type { ScheduledRequest } from '../scheduler/scheduler-output.js';
import type { SamplingParams } from '../sampling/sampling-params.js';
import type { NativeSamplingInput } from '../native/types.js';
import { packSampleParams, type SampleRowParams } from './sample-params-packing.js';

/** What the runner needs of a sample's state. */
export interface SamplingSource {
  readonly params: SamplingParams;
  readonly seed: number;
}

export function buildSamplingInput(
  scheduled: readonly ScheduledRequest[],
  sources: ReadonlyMap<string, SamplingSource>,
): NativeSamplingInput {
  const rows: SampleRowParams[] = [];
  const history: number[] = [];
  const biasIds: number[] = [];
  const biasValues: number[] = [];
  let maxLogprobs = 0;
  for (const s of scheduled) {
    if (!s.sampleThisStep) continue;
    const source = sources.get(s.request.requestId);
    if (!source) throw new Error(`runner: no sampling state for request ${s.request.requestId}`);
    const p = source.params;
    const numLogprobs = p.logprobs ?? 0;
    maxLogprobs = Math.max(maxLogprobs, numLogprobs);
    const historyStart = history.length;
    let numPromptHistory = 0;
    let numOutputHistory = 0;
    // Histories are copied only for the penalties that read them.
    if (p.repetitionPenalty !== 1) {
      for (const t of s.request.promptTokenIds) history.push(t);
      numPromptHistory = s.request.promptTokenIds.length;
    }
    if (p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0) {
      for (const t of s.request.outputTokenIds) history.push(t);
      numOutputHistory = s.request.outputTokenIds.length;
    }
    const biasStart = biasIds.length;
    for (const [id, value] of Object.entries(p.logitBias)) {
      biasIds.push(Number(id));
      biasValues.push(value);
    }
    rows.push({
      temperature: p.temperature,
      topK: p.topK,
      topP: p.topP,
      minP: p.minP,
      repetitionPenalty: p.repetitionPenalty,
      presencePenalty: p.presencePenalty,
      frequencyPenalty: p.frequencyPenalty,
      seed: source.seed,
      counter: s.request.numOutputTokens,
      numLogprobs,
      historyStart,
      numPromptHistory,
      numOutputHistory,
      biasStart,
      numBias: biasIds.length - biasStart,
    });
  }
  return {
    params: packSampleParams(rows),
    history: Int32Array.from(history),
    biasTokenIds: Int32Array.from(biasIds),
    biasValues: Float32Array.from(biasValues),
    maxLogprobs,
  };
}
