// Gathers a streamed engine request into whole samples, for the non-streaming responses.
import type { FinishReason, GenerateEvent, RequestMetrics, TokenLogprob, Usage } from '../engine/types.js';

export interface SampleResult {
  index: number;
  text: string;
  tokenIds: number[];
  /** Per generated token, when logprobs were asked for. */
  logprobs: TokenLogprob[] | null;
  finishReason: FinishReason;
  stopReason: string | number | null;
  usage: Usage;
  metrics: RequestMetrics;
}

/** Reads a request to its end; samples sorted by index. */
export async function collectSamples(stream: AsyncIterable<GenerateEvent>): Promise<SampleResult[]> {
  const logprobs = new Map<number, TokenLogprob[]>();
  const samples: SampleResult[] = [];
  for await (const event of stream) {
    if (event.type === 'delta') {
      if (event.logprobs) {
        const list = logprobs.get(event.index) ?? [];
        list.push(...event.logprobs);
        logprobs.set(event.index, list);
      }
      continue;
    }
    samples.push({
      index: event.index,
      text: event.text,
      tokenIds: event.tokenIds,
      logprobs: logprobs.get(event.index) ?? null,
      finishReason: event.finishReason,
      stopReason: event.stopReason ?? null,
      usage: event.usage,
      metrics: event.metrics,
    });
  }
  return samples.sort((a, b) => a.index - b.index);
}

/** Tokens served from the prefix cache for a request (the same for all of its samples). */
export function cachedTokensOf(samples: readonly SampleResult[]): number {
  return samples.reduce((m, s) => Math.max(m, s.usage.cachedTokens), 0);
}
