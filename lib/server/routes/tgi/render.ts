// Engine outputs -> TGI responses, stream events and details (pure functions).
import type { DeltaEvent, FinishReason, TokenLogprob } from '../../../engine/types.js';
import type { SampleResult } from '../../collect.js';

export interface TgiToken {
  id: number;
  text: string;
  logprob: number;
  special: boolean;
}

export type TgiFinishReason = 'length' | 'eos_token' | 'stop_sequence' | 'abort';

export interface TokenInfo {
  tokenText(id: number): string;
  isSpecial(id: number): boolean;
}

export function tgiFinishReason(finishReason: FinishReason, stopReason: string | number | null | undefined): TgiFinishReason {
  if (finishReason === 'length') return 'length';
  if (finishReason === 'abort') return 'abort';
  return typeof stopReason === 'string' ? 'stop_sequence' : 'eos_token';
}

function logprobValue(value: number | undefined): number {
  if (value === undefined) return 0;
  return Number.isFinite(value) ? value : -9999;
}

/**
 * One TGI token per generated token id. The texts of the non-special tokens concatenate to `text`
 * (what the detokenizer released): each token's own text when those add up, otherwise the whole text
 * sits on the last of them (bytes of one character that only decode together).
 */
export function tokensFor(
  tokenIds: readonly number[],
  text: string,
  logprobs: readonly TokenLogprob[] | null | undefined,
  info: TokenInfo,
): TgiToken[] {
  const special = tokenIds.map((id) => info.isSpecial(id));
  const own = tokenIds.map((id) => info.tokenText(id));
  const ordinary = own.filter((_, i) => !special[i]).join('');
  const lastOrdinary = special.lastIndexOf(false);
  return tokenIds.map((id, i) => {
    let tokenText: string;
    if (special[i]) tokenText = own[i] ?? '';
    else if (ordinary === text) tokenText = own[i] ?? '';
    else tokenText = i === lastOrdinary ? text : '';
    return { id, text: tokenText, logprob: logprobValue(logprobs?.[i]?.logprob), special: special[i] ?? false };
  });
}

export function topTokensFor(logprobs: readonly TokenLogprob[] | null | undefined, numTop: number, info: TokenInfo): TgiToken[][] {
  if (!logprobs || numTop === 0) return [];
  return logprobs.map((lp) =>
    lp.top.slice(0, numTop).map((alt) => ({
      id: alt.tokenId,
      text: info.tokenText(alt.tokenId),
      logprob: logprobValue(alt.logprob),
      special: info.isSpecial(alt.tokenId),
    })),
  );
}

export interface TgiSequenceDetails {
  finish_reason: TgiFinishReason;
  generated_tokens: number;
  seed: number | null;
  prefill: TgiToken[];
  tokens: TgiToken[];
  top_tokens: TgiToken[][];
}

export function sequenceDetails(sample: SampleResult, seed: number | null, numTop: number, info: TokenInfo): TgiSequenceDetails {
  return {
    finish_reason: tgiFinishReason(sample.finishReason, sample.stopReason),
    generated_tokens: sample.tokenIds.length,
    seed,
    prefill: [],
    tokens: tokensFor(sample.tokenIds, sample.text, sample.logprobs, info),
    top_tokens: topTokensFor(sample.logprobs, numTop, info),
  };
}

/** Sum of the chosen tokens' logprobs: how best_of picks its winner. */
export function sampleLogprobSum(sample: SampleResult): number {
  return (sample.logprobs ?? []).reduce((s, lp) => s + lp.logprob, 0);
}

export interface TgiStreamEvent {
  index: number;
  token: TgiToken;
  top_tokens: TgiToken[] | null;
  generated_text: string | null;
  details: { finish_reason: TgiFinishReason; generated_tokens: number; seed: number | null; input_length: number } | null;
}

/** Token events of one delta (one event per token id), numbered from `firstIndex`. */
export function deltaEvents(delta: DeltaEvent, firstIndex: number, numTop: number, info: TokenInfo): TgiStreamEvent[] {
  const tokens = tokensFor(delta.tokenIds, delta.text, delta.logprobs, info);
  const tops = topTokensFor(delta.logprobs, numTop, info);
  return tokens.map((token, i) => ({
    index: firstIndex + i,
    token,
    top_tokens: numTop > 0 ? (tops[i] ?? []) : null,
    generated_text: null,
    details: null,
  }));
}
