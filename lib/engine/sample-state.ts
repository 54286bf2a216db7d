// Per-sample output state: the incremental detokenizer with stop strings, the generated ids, logprobs
// and timestamps. Turns each sampled token into a DeltaEvent and the end into a FinalEvent.
import type { SamplingParams } from '../sampling/sampling-params.js';
import type { Request } from '../scheduler/request.js';
import { IncrementalDetokenizer } from '../tokenizer/incremental-detokenizer.js';
import type { Tokenizer } from '../tokenizer/types.js';
import type { DeltaEvent, FinalEvent, FinishReason, GenerateEvent, TokenLogprob } from './types.js';

export class SampleState {
  readonly tokenIds: number[] = [];
  finished = false;
  private readonly detok: IncrementalDetokenizer;
  private firstScheduledTime: number | null = null;
  private firstTokenTime: number | null = null;

  constructor(
    readonly groupId: string,
    readonly index: number,
    readonly request: Request,
    readonly params: SamplingParams,
    tokenizer: Tokenizer,
    promptTokenIds: readonly number[],
    readonly arrivalTime: number,
    /** 32-bit seed of this sample's random stream. */
    readonly seed: number,
  ) {
    this.detok = new IncrementalDetokenizer(tokenizer, {
      skipSpecialTokens: params.skipSpecialTokens,
      stop: params.stop,
      includeStopStrInOutput: params.includeStopStrInOutput,
      promptIds: promptTokenIds,
    });
  }

  get stoppedByString(): boolean {
    return this.detok.stopped;
  }

  markScheduled(now: number): void {
    this.firstScheduledTime ??= now;
  }

  /** Records one generated token; returns its delta event. */
  pushToken(tokenId: number, logprob: { logprob: number; top: TokenLogprob['top'] } | undefined, now: number): DeltaEvent {
    this.firstTokenTime ??= now;
    this.tokenIds.push(tokenId);
    const text = this.detok.push(tokenId);
    const event: DeltaEvent = { type: 'delta', index: this.index, text, tokenIds: [tokenId] };
    if (logprob && this.params.logprobs !== null) event.logprobs = [{ tokenId, logprob: logprob.logprob, top: logprob.top }];
    return event;
  }

  /** Ends the sample: held-back text (if any) as a last delta, then the final event. */
  finish(reason: FinishReason, stopToken: number | undefined, now: number, numPromptTokens: number): GenerateEvent[] {
    if (this.finished) return [];
    this.finished = true;
    const events: GenerateEvent[] = [];
    if (reason !== 'abort') {
      const tail = this.detok.finish();
      if (tail.length > 0) events.push({ type: 'delta', index: this.index, text: tail, tokenIds: [] });
    }
    const final: FinalEvent = {
      type: 'final',
      index: this.index,
      finishReason: reason,
      text: this.detok.text,
      tokenIds: [...this.tokenIds],
      usage: {
        promptTokens: numPromptTokens,
        completionTokens: this.tokenIds.length,
        cachedTokens: this.request.numCachedTokens ?? 0,
      },
      metrics: {
        arrivalTime: this.arrivalTime,
        firstScheduledTime: this.firstScheduledTime,
        firstTokenTime: this.firstTokenTime,
        finishedTime: now,
        numPreemptions: this.request.numPreemptions,
      },
    };
    const stopString = this.detok.stopString;
    if (reason === 'stop') {
      if (stopString !== null) final.stopReason = stopString;
      else if (stopToken !== undefined) final.stopReason = stopToken;
    }
    events.push(final);
    return events;
  }
}
