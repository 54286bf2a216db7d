// Engine outputs -> KServe v2 / Triton response bodies (pure functions).
import type { TokenLogprob } from '../../../engine/types.js';
import type { SampleResult } from '../../collect.js';
import type { TritonFlags } from './params.js';

export const MODEL_VERSION = '1';

export function modelMetadata(name: string) {
  return {
    name,
    versions: [MODEL_VERSION],
    platform: 'kvserve',
    inputs: [
      { name: 'text_input', datatype: 'BYTES', shape: [-1] },
      { name: 'stream', datatype: 'BOOL', shape: [1] },
      { name: 'sampling_parameters', datatype: 'BYTES', shape: [1] },
      { name: 'exclude_input_in_output', datatype: 'BOOL', shape: [1] },
      { name: 'return_finish_reason', datatype: 'BOOL', shape: [1] },
      { name: 'return_cumulative_logprob', datatype: 'BOOL', shape: [1] },
      { name: 'return_logprobs', datatype: 'BOOL', shape: [1] },
      { name: 'return_num_input_tokens', datatype: 'BOOL', shape: [1] },
      { name: 'return_num_output_tokens', datatype: 'BOOL', shape: [1] },
    ],
    outputs: [
      { name: 'text_output', datatype: 'BYTES', shape: [-1] },
      { name: 'finish_reason', datatype: 'BYTES', shape: [-1] },
      { name: 'cumulative_logprob', datatype: 'FP32', shape: [-1] },
      { name: 'logprobs', datatype: 'BYTES', shape: [-1] },
      { name: 'num_input_tokens', datatype: 'UINT32', shape: [1] },
      { name: 'num_output_tokens', datatype: 'UINT32', shape: [-1] },
    ],
  };
}

/** The vLLM backend's logprobs output: per token {token_id: {logprob, rank, decoded_token}}, as JSON. */
export function logprobsJson(logprobs: readonly TokenLogprob[] | null, tokenText: (id: number) => string): string {
  if (logprobs === null) return 'null';
  return JSON.stringify(logprobs.map((lp) => {
    const entry: Record<string, { logprob: number; rank: number | null; decoded_token: string }> = {};
    const rankOf = (id: number): number | null => {
      const i = lp.top.findIndex((alt) => alt.tokenId === id);
      return i < 0 ? null : i + 1;
    };
    entry[String(lp.tokenId)] = { logprob: finite(lp.logprob), rank: rankOf(lp.tokenId), decoded_token: tokenText(lp.tokenId) };
    lp.top.forEach((alt, i) => {
      entry[String(alt.tokenId)] ??= { logprob: finite(alt.logprob), rank: i + 1, decoded_token: tokenText(alt.tokenId) };
    });
    return entry;
  }));
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : -9999;
}

export function cumulativeLogprob(logprobs: readonly TokenLogprob[] | null): number {
  return (logprobs ?? []).reduce((s, lp) => s + lp.logprob, 0);
}

/** The optional outputs the return_* flags ask for, keyed by output name. */
export function extraOutputs(
  flags: TritonFlags,
  sample: Pick<SampleResult, 'finishReason' | 'tokenIds' | 'logprobs'> & { finished: boolean },
  numInputTokens: number,
  tokenText: (id: number) => string,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  // The backend prints Python's None for a sequence that has not finished yet.
  if (flags.returnFinishReason) out.finish_reason = sample.finished ? sample.finishReason : 'None';
  if (flags.returnCumulativeLogprob) out.cumulative_logprob = cumulativeLogprob(sample.logprobs);
  if (flags.returnLogprobs) out.logprobs = logprobsJson(sample.logprobs, tokenText);
  if (flags.returnNumInputTokens) out.num_input_tokens = numInputTokens;
  if (flags.returnNumOutputTokens) out.num_output_tokens = sample.tokenIds.length;
  return out;
}

export interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: Array<string | number>;
}

const OUTPUT_TYPES: Record<string, string> = {
  text_output: 'BYTES',
  finish_reason: 'BYTES',
  cumulative_logprob: 'FP32',
  logprobs: 'BYTES',
  num_input_tokens: 'UINT32',
  num_output_tokens: 'UINT32',
};

/** Gathers per-sample output maps into tensors (one element per sample), in a stable order. */
export function toTensors(rows: Array<Record<string, string | number>>, requested: readonly string[] | null): OutputTensor[] {
  const names = Object.keys(OUTPUT_TYPES).filter((name) => rows.some((r) => name in r));
  return names
    .filter((name) => requested === null || requested.includes(name))
    .map((name) => {
      const data = rows.map((r) => r[name] ?? (OUTPUT_TYPES[name] === 'BYTES' ? '' : 0));
      return { name, datatype: OUTPUT_TYPES[name] ?? 'BYTES', shape: [data.length], data };
    });
}
