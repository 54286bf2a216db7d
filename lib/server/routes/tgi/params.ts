// TGI parameters -> engine sampling parameters, with TGI's validation rules and messages
// (router/src/validation.rs): greedy unless do_sample or a sampling warper is set, a random seed when
// sampling without one, max_new_tokens defaulting to what the context leaves.
import { randomInt } from 'node:crypto';
import { badRequest } from '../../http-error.js';
import type { MutableSamplingParams } from '../../vllm-params.js';
import type { GenerateBody, TgiParameters } from './schemas.js';

export const TGI_LIMITS = {
  maxBestOf: 2,
  maxStopSequences: 4,
  maxTopNTokens: 5,
  /** TGI caps the default generation length. */
  defaultGenerationLength: 1024,
} as const;

export const TGI_PARAM_NAMES: Record<string, string> = {
  n: 'best_of',
  temperature: 'temperature',
  topK: 'top_k',
  topP: 'top_p',
  repetitionPenalty: 'repetition_penalty',
  frequencyPenalty: 'frequency_penalty',
  seed: 'seed',
  maxTokens: 'max_new_tokens',
  stop: 'stop',
  logprobs: 'top_n_tokens',
};

export interface TgiRequestPlan {
  promptIds: number[];
  params: MutableSamplingParams;
  sampling: boolean;
  seed: number | null;
  bestOf: number;
  topNTokens: number;
  details: boolean;
  returnFullText: boolean;
}

const invalid = (message: string, param: string) => badRequest(message, param);

/** Validates a TGI request and resolves everything the engine needs. Throws HttpError (rendered as 422). */
export async function planTgiRequest(
  body: GenerateBody,
  tokenizer: { encode(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]> },
  maxModelLen: number,
  stream: boolean,
): Promise<TgiRequestPlan> {
  const p: TgiParameters = body.parameters ?? {};
  const bestOf = p.best_of ?? 1;
  // As TGI's NextTokenChooser: a warper that changes nothing (temperature 1.0) does not turn sampling on.
  const sampling = (p.do_sample ?? false) || (p.temperature != null && p.temperature !== 1) || p.top_k != null || p.top_p != null || p.typical_p != null;
  if (bestOf < 1 || bestOf > TGI_LIMITS.maxBestOf) {
    throw invalid(`\`best_of\` must be > 0 and <= ${TGI_LIMITS.maxBestOf}. Given: ${bestOf}`, 'best_of');
  }
  if (bestOf > 1 && stream) throw invalid('`best_of` != 1 is not supported when streaming tokens', 'best_of');
  if (bestOf > 1 && !sampling) throw invalid('you must use sampling when `best_of` is > 1', 'best_of');
  if (bestOf > 1 && p.seed != null) throw invalid('`seed` must not be set when `best_of` > 1', 'seed');
  const temperature = p.temperature ?? 1;
  if (!(temperature > 0)) throw invalid('`temperature` must be strictly positive', 'temperature');
  const repetitionPenalty = p.repetition_penalty ?? 1;
  if (!(repetitionPenalty > 0)) throw invalid('`repetition_penalty` must be strictly positive', 'repetition_penalty');
  const frequencyPenalty = p.frequency_penalty ?? 0;
  if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw invalid('`frequency_penalty` must be >= -2.0 and <= 2.0', 'frequency_penalty');
  if (p.top_p != null && !(p.top_p > 0 && p.top_p < 1)) throw invalid('`top_p` must be > 0.0 and < 1.0', 'top_p');
  if (p.typical_p != null) throw invalid('`typical_p` is not supported', 'typical_p');
  if (p.top_k != null && !(p.top_k > 0)) throw invalid('`top_k` must be strictly positive', 'top_k');
  if (p.max_new_tokens != null && !(p.max_new_tokens > 0)) throw invalid('`max_new_tokens` must be strictly positive', 'max_new_tokens');
  const stop = p.stop ?? [];
  if (stop.length > TGI_LIMITS.maxStopSequences) {
    throw invalid(`\`stop\` supports up to ${TGI_LIMITS.maxStopSequences} stop sequences. Given: ${stop.length}`, 'stop');
  }
  const topNTokens = p.top_n_tokens ?? 0;
  if (topNTokens > TGI_LIMITS.maxTopNTokens) {
    throw invalid(`\`top_n_tokens\` must be >= 0 and <= ${TGI_LIMITS.maxTopNTokens}. Given: ${topNTokens}`, 'top_n_tokens');
  }
  if (body.inputs === '') throw invalid('`inputs` cannot be empty', 'inputs');
  if (p.decoder_input_details) {
    throw invalid(stream
      ? '`decoder_input_details` == true is not supported when streaming tokens'
      : '`decoder_input_details` (prompt logprobs) is not supported', 'decoder_input_details');
  }
  if (p.grammar) throw invalid('`grammar` (constrained generation) is not supported', 'grammar');
  if (p.watermark) throw invalid('`watermark` is not supported', 'watermark');
  if (p.adapter_id) throw invalid('`adapter_id` (LoRA adapters) is not supported', 'adapter_id');
  const maxInputTokens = maxModelLen - 1;
  if (p.truncate != null && !(p.truncate > 0 && p.truncate <= maxInputTokens)) {
    throw invalid(`\`truncate\` must be strictly positive and less than ${maxInputTokens}. Given: ${p.truncate}`, 'truncate');
  }

  let promptIds = await tokenizer.encode(body.inputs, { addSpecialTokens: body.add_special_tokens ?? true });
  if (p.truncate != null && promptIds.length > p.truncate) promptIds = promptIds.slice(promptIds.length - p.truncate);
  const inputLength = promptIds.length;
  const maxNewTokens = p.max_new_tokens ?? Math.min(Math.max(0, maxModelLen - inputLength), TGI_LIMITS.defaultGenerationLength);
  if (inputLength + maxNewTokens > maxModelLen) {
    throw invalid(`\`inputs\` tokens + \`max_new_tokens\` must be <= ${maxModelLen}. Given: ${inputLength} \`inputs\` tokens and ${maxNewTokens} \`max_new_tokens\``, 'max_new_tokens');
  }
  if (inputLength > maxInputTokens) {
    throw invalid(`\`inputs\` must have less than ${maxInputTokens} tokens. Given: ${inputLength}`, 'inputs');
  }

  const seed = sampling ? (p.seed ?? randomInt(0, 2 ** 32)) : null;
  const params: MutableSamplingParams = {
    n: bestOf,
    temperature: sampling ? temperature : 0,
    maxTokens: maxNewTokens,
    stop,
    // Token events carry logprobs, best_of ranks by them: always ask for the chosen token's.
    logprobs: topNTokens,
  };
  if (repetitionPenalty !== 1) params.repetitionPenalty = repetitionPenalty;
  if (frequencyPenalty !== 0) params.frequencyPenalty = frequencyPenalty;
  if (sampling && p.top_k != null) params.topK = p.top_k;
  if (sampling && p.top_p != null) params.topP = p.top_p;
  if (seed !== null) params.seed = seed;
  return {
    promptIds,
    params,
    sampling,
    seed,
    bestOf,
    topNTokens,
    details: p.details ?? false,
    returnFullText: p.return_full_text ?? false,
  };
}
