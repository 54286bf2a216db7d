// Triton vLLM-backend parameters: vLLM SamplingParams keys (from `parameters`, top-level generate keys,
// input tensors, or the `sampling_parameters` JSON string, which wins) and the backend's boolean flags.
// Values may arrive as strings ("0.7"), as Triton request parameters often do; they are converted the
// way the backend converts them, and anything unknown is refused rather than ignored.
import { formatValue } from '../../../errors.js';
import { badRequest } from '../../http-error.js';
import type { VllmSamplingFields } from '../../vllm-params.js';

type Kind = 'int' | 'float' | 'bool' | 'stop' | 'ids' | 'bias';

const SAMPLING_KEYS: Record<string, Kind> = {
  n: 'int',
  temperature: 'float',
  top_p: 'float',
  top_k: 'int',
  min_p: 'float',
  repetition_penalty: 'float',
  presence_penalty: 'float',
  frequency_penalty: 'float',
  seed: 'int',
  max_tokens: 'int',
  min_tokens: 'int',
  stop: 'stop',
  stop_token_ids: 'ids',
  ignore_eos: 'bool',
  skip_special_tokens: 'bool',
  include_stop_str_in_output: 'bool',
  logprobs: 'int',
  logit_bias: 'bias',
};

export const FLAG_KEYS = {
  stream: 'stream',
  exclude_input_in_output: 'excludeInputInOutput',
  return_finish_reason: 'returnFinishReason',
  return_cumulative_logprob: 'returnCumulativeLogprob',
  return_logprobs: 'returnLogprobs',
  return_num_input_tokens: 'returnNumInputTokens',
  return_num_output_tokens: 'returnNumOutputTokens',
  // KServe Open Inference Protocol generate: details {finish_reason, logprobs}.
  details: 'details',
} as const;

export type TritonFlags = Partial<Record<(typeof FLAG_KEYS)[keyof typeof FLAG_KEYS], boolean>>;

export interface TritonSampling extends VllmSamplingFields {
  logprobs?: number | null;
}

export interface TritonParams {
  sampling: TritonSampling;
  flags: TritonFlags;
}

function convert(kind: Kind, value: unknown, field: string): unknown {
  switch (kind) {
    case 'int': {
      const v = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      throw badRequest(`${field}: expected an integer, got ${formatValue(value)}`, field);
    }
    case 'float': {
      const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      throw badRequest(`${field}: expected a number, got ${formatValue(value)}`, field);
    }
    case 'bool':
      return toBool(value, field);
    case 'stop':
      if (typeof value === 'string') return [value];
      if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return value;
      throw badRequest(`${field}: expected a string or an array of strings, got ${formatValue(value)}`, field);
    case 'ids':
      if (Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) return value;
      throw badRequest(`${field}: expected an array of token ids, got ${formatValue(value)}`, field);
    case 'bias':
      if (value !== null && typeof value === 'object' && !Array.isArray(value)
        && Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))) return value;
      throw badRequest(`${field}: expected an object of token id -> bias, got ${formatValue(value)}`, field);
  }
}

export function toBool(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 1) return true;
  if (value === 'false' || value === 0) return false;
  throw badRequest(`${field}: expected a boolean, got ${formatValue(value)}`, field);
}

/** Reads one bag of keys into `into`; `where` prefixes field names in messages. */
export function readParams(into: TritonParams, values: Record<string, unknown>, where: string, skip: ReadonlySet<string> = new Set()): void {
  for (const [key, value] of Object.entries(values)) {
    if (skip.has(key) || value === null || value === undefined) continue;
    const field = where === '' ? key : `${where}.${key}`;
    const kind = SAMPLING_KEYS[key];
    if (kind !== undefined) {
      (into.sampling as Record<string, unknown>)[key] = convert(kind, value, field);
      continue;
    }
    const flag = (FLAG_KEYS as Record<string, keyof TritonFlags | undefined>)[key];
    if (flag !== undefined) {
      into.flags[flag] = toBool(value, field);
      continue;
    }
    if (key === 'lora_name') throw badRequest(`${field}: LoRA adapters are not supported`, field);
    throw badRequest(`${field}: unknown parameter (expected a vLLM sampling parameter such as temperature, top_p, max_tokens, or one of ${Object.keys(FLAG_KEYS).join(', ')})`, field);
  }
}

/** Parses the `sampling_parameters` JSON string (or object) the vLLM backend accepts. */
export function parseSamplingParameters(value: unknown, field: string): Record<string, unknown> {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw badRequest(`${field}: expected a JSON object string, got ${formatValue(value)} (${(err as Error).message})`, field);
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest(`${field}: expected a JSON object, got ${formatValue(value)}`, field);
  }
  return parsed as Record<string, unknown>;
}

/** vLLM's SamplingParams default. */
export const DEFAULT_MAX_TOKENS = 16;

/**
 * max_tokens for a prompt: vLLM's default 16, clipped to what the context leaves (the vLLM engine
 * stops at the model length rather than refusing). A prompt that fills the context is refused.
 */
export function clampMaxTokens(requested: number | null | undefined, numPromptTokens: number, maxModelLen: number): number {
  if (numPromptTokens >= maxModelLen) {
    throw badRequest(`text_input: the prompt has ${numPromptTokens} tokens but the model's maximum length is ${maxModelLen}; it must leave room for at least one generated token`, 'text_input');
  }
  const wanted = requested ?? DEFAULT_MAX_TOKENS;
  if (wanted < 1) throw badRequest(`max_tokens: expected an integer >= 1, got ${wanted}`, 'max_tokens');
  return Math.min(wanted, maxModelLen - numPromptTokens);
}
