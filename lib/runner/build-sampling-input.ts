// Per-row sampling arrays for one step: one packed SampleParams row per sampled request, the token
// histories the penalties need, and the logit biases (native/ops/sample/sample.h).
import type { ScheduledRequest } from '../scheduler/scheduler-output.js';
import type { SamplingParams } from '../sampling/sampling-params.js';
import type { NativeSamplingInput } from '../native/types.js';
import { invalidArgument } from '../errors.js';
import { SAMPLE_PARAMS_STRIDE, SampleParamsOffset as O } from './sample-params-packing.js';

/** What the runner needs of a sample's state. */
export interface SamplingSource {
  readonly params: SamplingParams;
  readonly seed: number;
}

/** A request's logit bias as parallel arrays, built once per SamplingParams object. */
const biasEntries = new WeakMap<SamplingParams, { ids: number[]; values: number[] }>();

function biasOf(p: SamplingParams): { ids: number[]; values: number[] } {
  let entry = biasEntries.get(p);
  if (entry === undefined) {
    entry = { ids: [], values: [] };
    for (const [id, value] of Object.entries(p.logitBias)) {
      entry.ids.push(Number(id));
      entry.values.push(value);
    }
    biasEntries.set(p, entry);
  }
  return entry;
}

export function buildSamplingInput(
  scheduled: readonly ScheduledRequest[],
  sources: ReadonlyMap<string, SamplingSource>,
): NativeSamplingInput {
  let numRows = 0;
  for (const s of scheduled) if (s.sampleThisStep) numRows++;
  // Written straight into the packed rows (the field order of SampleParamsOffset): this runs on the
  // critical path between two steps, once per sampled request.
  const params = new Float64Array(numRows * SAMPLE_PARAMS_STRIDE);
  const history: number[] = [];
  const biasIds: number[] = [];
  const biasValues: number[] = [];
  let maxLogprobs = 0;
  let base = 0;
  for (const s of scheduled) {
    if (!s.sampleThisStep) continue;
    const source = sources.get(s.request.requestId);
    if (!source) throw new Error(`runner: no sampling state for request ${s.request.requestId}`);
    const p = source.params;
    const numLogprobs = p.logprobs ?? 0;
    if (numLogprobs > maxLogprobs) maxLogprobs = numLogprobs;
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
    const bias = biasOf(p);
    for (let i = 0; i < bias.ids.length; i++) {
      biasIds.push(bias.ids[i] as number);
      biasValues.push(bias.values[i] as number);
    }
    // A row built ahead samples the output after the one still in flight.
    const counter = s.request.numOutputTokens + (s.continuesRow !== undefined ? 1 : 0);
    if (s.continuesRow !== undefined && (numPromptHistory > 0 || numOutputHistory > 0)) {
      throw new Error(`runner: request ${s.request.requestId} reads its token history, so its step cannot be built ahead`);
    }
    if (!(Number.isSafeInteger(source.seed) && source.seed >= 0)) throw invalidArgument('seed', 'an integer in [0, 2^53)', source.seed);
    params[base + O.temperature] = p.temperature;
    params[base + O.topK] = p.topK;
    params[base + O.topP] = p.topP;
    params[base + O.minP] = p.minP;
    params[base + O.repetitionPenalty] = p.repetitionPenalty;
    params[base + O.presencePenalty] = p.presencePenalty;
    params[base + O.frequencyPenalty] = p.frequencyPenalty;
    params[base + O.seed] = source.seed;
    params[base + O.counter] = counter;
    params[base + O.numLogprobs] = numLogprobs;
    params[base + O.historyStart] = historyStart;
    params[base + O.numPromptHistory] = numPromptHistory;
    params[base + O.numOutputHistory] = numOutputHistory;
    params[base + O.biasStart] = biasStart;
    params[base + O.numBias] = bias.ids.length;
    base += SAMPLE_PARAMS_STRIDE;
  }
  return {
    params,
    history: Int32Array.from(history),
    biasTokenIds: Int32Array.from(biasIds),
    biasValues: Float32Array.from(biasValues),
    maxLogprobs,
  };
}
