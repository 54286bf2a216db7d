// Engine outputs -> OpenAI response bodies and stream chunks (pure functions).
import type { FinishReason, TokenLogprob } from '../../../engine/types.js';

export type TokenTextFn = (tokenId: number) => string;

export interface UsageBody {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export function usageBody(promptTokens: number, completionTokens: number, cachedTokens: number): UsageBody {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

/** JSON has no -Infinity; vLLM reports impossible tokens as -9999. */
export function finiteLogprob(value: number): number {
  return Number.isFinite(value) ? value : value > 0 ? 0 : -9999;
}

// ---- /v1/completions ----

export interface CompletionLogprobsBody {
  text_offset: number[];
  token_logprobs: number[];
  tokens: string[];
  top_logprobs: Array<Record<string, number>> | null;
}

/** The legacy completions logprobs shape; offsets count from `startOffset` (the echoed prompt). */
export function completionLogprobs(
  logprobs: readonly TokenLogprob[],
  tokenText: TokenTextFn,
  numTop: number,
  startOffset = 0,
): CompletionLogprobsBody {
  const out: CompletionLogprobsBody = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: numTop > 0 ? [] : null };
  let offset = startOffset;
  for (const lp of logprobs) {
    const text = tokenText(lp.tokenId);
    out.text_offset.push(offset);
    out.token_logprobs.push(finiteLogprob(lp.logprob));
    out.tokens.push(text);
    if (out.top_logprobs) {
      const top: Record<string, number> = {};
      for (const alt of lp.top.slice(0, numTop)) {
        const key = tokenText(alt.tokenId);
        if (!(key in top)) top[key] = finiteLogprob(alt.logprob);
      }
      out.top_logprobs.push(top);
    }
    offset += text.length;
  }
  return out;
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobsBody | null;
  finish_reason: FinishReason | null;
  stop_reason: string | number | null;
}

export function completionBody(id: string, created: number, model: string, choices: CompletionChoice[], usage: UsageBody) {
  return { id, object: 'text_completion' as const, created, model, choices, usage };
}

export function completionChunk(
  id: string,
  created: number,
  model: string,
  choices: CompletionChoice[],
  usage?: UsageBody | null,
) {
  return { id, object: 'text_completion' as const, created, model, choices, ...(usage ? { usage } : {}) };
}

// ---- /v1/chat/completions ----

export interface ChatTopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface ChatLogprobEntry extends ChatTopLogprob {
  top_logprobs: ChatTopLogprob[];
}

function chatTop(tokenId: number, logprob: number, tokenText: TokenTextFn): ChatTopLogprob {
  const token = tokenText(tokenId);
  return { token, logprob: finiteLogprob(logprob), bytes: [...Buffer.from(token, 'utf8')] };
}

export function chatLogprobs(logprobs: readonly TokenLogprob[], tokenText: TokenTextFn, numTop: number): { content: ChatLogprobEntry[] } {
  return {
    content: logprobs.map((lp) => ({
      ...chatTop(lp.tokenId, lp.logprob, tokenText),
      top_logprobs: lp.top.slice(0, numTop).map((alt) => chatTop(alt.tokenId, alt.logprob, tokenText)),
    })),
  };
}

export interface ChatChoice {
  index: number;
  message: { role: 'assistant'; content: string };
  logprobs: { content: ChatLogprobEntry[] } | null;
  finish_reason: FinishReason | null;
  stop_reason: string | number | null;
}

export function chatBody(id: string, created: number, model: string, choices: ChatChoice[], usage: UsageBody) {
  return { id, object: 'chat.completion' as const, created, model, choices, usage };
}

export interface ChatChunkChoice {
  index: number;
  delta: { role?: 'assistant'; content?: string };
  logprobs: { content: ChatLogprobEntry[] } | null;
  finish_reason: FinishReason | null;
  stop_reason?: string | number | null;
}

export function chatChunk(id: string, created: number, model: string, choices: ChatChunkChoice[], usage?: UsageBody | null) {
  return { id, object: 'chat.completion.chunk' as const, created, model, choices, ...(usage ? { usage } : {}) };
}
