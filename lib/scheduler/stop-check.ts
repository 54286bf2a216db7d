// When does a request finish, judged after each generated token (stop strings are the
// detokenizer's business; it calls Scheduler.finishRequest).
//
// Order, as vLLM v1: below minTokens neither EOS nor stop token ids count; then EOS (unless
// ignoreEos) and stop token ids finish with 'finished_stopped'; then maxTokens generated or
// maxModelLen tokens in total finish with 'finished_length'. The token that stops is kept in the
// output token ids; the detokenizer decides whether it shows in the text.
import type { FinishedStatus, Request } from './request.js';

export interface StopDecision {
  readonly status: FinishedStatus;
  /** The stop token id (EOS or a stop token id) for 'finished_stopped'; null otherwise. */
  readonly stopReason: number | null;
}

/** Whether `request`, whose last output token was just appended, is finished. */
export function checkStop(request: Request, maxModelLen: number): StopDecision | null {
  const numOutput = request.numOutputTokens;
  if (numOutput >= request.minTokens && numOutput > 0) {
    const last = request.outputTokenIds[numOutput - 1] as number;
    if (!request.ignoreEos && request.eosTokenIds.has(last)) return { status: 'finished_stopped', stopReason: last };
    if (request.stopTokenIds.has(last)) return { status: 'finished_stopped', stopReason: last };
  }
  if (request.numTokens >= maxModelLen || (request.maxTokens !== null && numOutput >= request.maxTokens)) {
    return { status: 'finished_length', stopReason: null };
  }
  return null;
}
