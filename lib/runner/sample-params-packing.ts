// Per-row sampling parameters as the native sample op reads them: SAMPLE_PARAMS_STRIDE doubles per
// logits row, in the field order of SampleParams (native/ops/sample/sample.h). The runner packs one
// Float64Array per step; op tests and benches use the same packer.
import { invalidArgument } from '../errors.js';

/** Doubles per row. */
export const SAMPLE_PARAMS_STRIDE = 15;

/** Offset of each field inside a row (the order of SampleParams). */
export const SampleParamsOffset = {
  temperature: 0,
  topK: 1,
  topP: 2,
  minP: 3,
  repetitionPenalty: 4,
  presencePenalty: 5,
  frequencyPenalty: 6,
  seed: 7,
  counter: 8,
  numLogprobs: 9,
  historyStart: 10,
  numPromptHistory: 11,
  numOutputHistory: 12,
  biasStart: 13,
  numBias: 14,
} as const;

/** Most alternatives a row may ask for (the op's maxLogprobs bound). */
export const SAMPLE_MAX_LOGPROBS = 20;

/** Temperatures below this sample greedily (argmax, lowest id on ties). */
export const SAMPLE_GREEDY_TEMPERATURE = 1e-5;

/** Largest seed / counter the double packing holds exactly (2^53 - 1). */
export const SAMPLE_MAX_SEED = Number.MAX_SAFE_INTEGER;

export interface SampleRowParams {
  /** < 1e-5 (or <= 0): greedy. */
  temperature: number;
  /** <= 0 or >= vocab: off. */
  topK: number;
  /** 1: off; (0, 1]. */
  topP: number;
  /** 0: off; [0, 1]. */
  minP: number;
  /** 1: off; > 0; applies to prompt and output tokens. */
  repetitionPenalty: number;
  /** 0: off; output tokens only. */
  presencePenalty: number;
  /** 0: off; output tokens only. */
  frequencyPenalty: number;
  /** Integer in [0, 2^53): the request's seed. */
  seed: number;
  /** Integer in [0, 2^53): index of this sample in the request's output. */
  counter: number;
  /** 0..SAMPLE_MAX_LOGPROBS alternatives to return (and <= the call's maxLogprobs). */
  numLogprobs: number;
  /** Into the step's history array: numPromptHistory prompt tokens, then numOutputHistory output tokens. */
  historyStart: number;
  numPromptHistory: number;
  numOutputHistory: number;
  /** Into the step's bias arrays (token ids and additive values). */
  biasStart: number;
  numBias: number;
}

/** Every processor off, temperature 1. */
export const DEFAULT_SAMPLE_ROW_PARAMS: Readonly<SampleRowParams> = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  seed: 0,
  counter: 0,
  numLogprobs: 0,
  historyStart: 0,
  numPromptHistory: 0,
  numOutputHistory: 0,
  biasStart: 0,
  numBias: 0,
});

const FIELDS = Object.keys(SampleParamsOffset) as Array<keyof SampleRowParams>;

/**
 * Packs rows (missing fields take DEFAULT_SAMPLE_ROW_PARAMS) into `out` or a new array. Seed and
 * counter must be safe non-negative integers, since a double carries them; the native op checks the
 * rest (ranges, token ids) and throws on bad values.
 */
export function packSampleParams(
  rows: ReadonlyArray<Partial<SampleRowParams>>,
  out: Float64Array = new Float64Array(rows.length * SAMPLE_PARAMS_STRIDE),
): Float64Array {
  if (out.length < rows.length * SAMPLE_PARAMS_STRIDE) {
    throw invalidArgument('out', `a Float64Array of at least ${rows.length * SAMPLE_PARAMS_STRIDE} elements`, out.length);
  }
  rows.forEach((row, r) => {
    const base = r * SAMPLE_PARAMS_STRIDE;
    for (const field of FIELDS) {
      const value = row[field] ?? DEFAULT_SAMPLE_ROW_PARAMS[field];
      if ((field === 'seed' || field === 'counter') && !(Number.isSafeInteger(value) && value >= 0)) {
        throw invalidArgument(`rows[${r}].${field}`, 'an integer in [0, 2^53)', value);
      }
      out[base + SampleParamsOffset[field]] = value;
    }
  });
  return out;
}
