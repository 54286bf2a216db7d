// vLLM's snake_case sampling fields (OpenAI routes, Triton's sampling_parameters) -> the engine's
// SamplingParamsInput, plus the prompt-length rules vLLM's OpenAI server applies.
import type { SamplingParamsInput } from '../engine/types.js';
import { formatValue } from '../errors.js';
import { badRequest } from './http-error.js';

export interface VllmSamplingFields {
  n?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  seed?: number | null;
  max_tokens?: number | null;
  min_tokens?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  ignore_eos?: boolean | null;
  skip_special_tokens?: boolean | null;
  include_stop_str_in_output?: boolean | null;
}

/** Engine field name -> the name clients use, for error messages. */
export const VLLM_PARAM_NAMES: Record<string, string> = {
  n: 'n',
  temperature: 'temperature',
  topK: 'top_k',
  topP: 'top_p',
  minP: 'min_p',
  repetitionPenalty: 'repetition_penalty',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
  logitBias: 'logit_bias',
  seed: 'seed',
  maxTokens: 'max_tokens',
  minTokens: 'min_tokens',
  stop: 'stop',
  stopTokenIds: 'stop_token_ids',
  ignoreEos: 'ignore_eos',
  logprobs: 'logprobs',
  includeStopStrInOutput: 'include_stop_str_in_output',
  skipSpecialTokens: 'skip_special_tokens',
};

/** SamplingParamsInput that a route fills in field by field. */
export type MutableSamplingParams = { -readonly [K in keyof SamplingParamsInput]: SamplingParamsInput[K] };

function set<K extends keyof MutableSamplingParams>(
  out: MutableSamplingParams,
  key: K,
  value: MutableSamplingParams[K] | null | undefined,
): void {
  if (value !== null && value !== undefined) out[key] = value;
}

/** Translates everything except max_tokens and logprobs, which each protocol resolves itself. */
export function samplingFromVllmFields(f: VllmSamplingFields, vocabSize: number): MutableSamplingParams {
  const out: MutableSamplingParams = {};
  set(out, 'n', f.n);
  set(out, 'temperature', f.temperature);
  set(out, 'topP', f.top_p);
  // vLLM: -1 (or 0) disables top-k.
  if (f.top_k !== null && f.top_k !== undefined && f.top_k > 0) out.topK = f.top_k;
  set(out, 'minP', f.min_p);
  set(out, 'repetitionPenalty', f.repetition_penalty);
  set(out, 'presencePenalty', f.presence_penalty);
  set(out, 'frequencyPenalty', f.frequency_penalty);
  set(out, 'seed', f.seed);
  set(out, 'minTokens', f.min_tokens);
  set(out, 'ignoreEos', f.ignore_eos);
  set(out, 'skipSpecialTokens', f.skip_special_tokens);
  set(out, 'includeStopStrInOutput', f.include_stop_str_in_output);
  if (f.stop !== null && f.stop !== undefined) out.stop = typeof f.stop === 'string' ? [f.stop] : f.stop;
  if (f.stop_token_ids) {
    for (const id of f.stop_token_ids) {
      if (id >= vocabSize) throw badRequest(`stop_token_ids: expected token ids below the vocabulary size ${vocabSize}, got ${id}`, 'stop_token_ids');
    }
    out.stopTokenIds = f.stop_token_ids;
  }
  if (f.logit_bias) {
    const bias: Record<number, number> = {};
    for (const [key, value] of Object.entries(f.logit_bias)) {
      const id = /^\d+$/.test(key) ? Number(key) : NaN;
      if (!(id < vocabSize)) {
        throw badRequest(`logit_bias: expected token ids (as strings) below the vocabulary size ${vocabSize}, got ${formatValue(key)}`, 'logit_bias');
      }
      bias[id] = value;
    }
    out.logitBias = bias;
  }
  return out;
}

/**
 * vLLM's rules: a prompt must leave room for at least one token, and an explicit max_tokens must fit
 * in the context with the prompt. Without one, the rest of the context is the limit.
 */
export function resolveMaxTokens(numPromptTokens: number, requested: number | null | undefined, maxModelLen: number): number {
  if (numPromptTokens >= maxModelLen) {
    throw badRequest(
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${numPromptTokens} input tokens. Please reduce the length of the input.`,
      'prompt',
      'context_length_exceeded',
    );
  }
  if (requested === null || requested === undefined) return maxModelLen - numPromptTokens;
  if (numPromptTokens + requested > maxModelLen) {
    throw badRequest(
      `'max_tokens' or 'max_completion_tokens' is too large: ${requested}. This model's maximum context length is ${maxModelLen} tokens and your request has ${numPromptTokens} input tokens (${requested} > ${maxModelLen} - ${numPromptTokens}).`,
      'max_tokens',
      'context_length_exceeded',
    );
  }
  return requested;
}
