// What one scheduler step hands to the runner. The runner packs it into one StepInput (flat typed
// arrays) and makes one native step() call; the sampled tokens come back through
// Scheduler.updateFromOutput.
import type { Request } from './request.js';

/** One row of the step: `numScheduledTokens` tokens of `request`, from `startPosition` on. */
export interface ScheduledRequest {
  readonly request: Request;
  /** Tokens computed this step: request.allTokenIds[startPosition, startPosition + numScheduledTokens). */
  readonly numScheduledTokens: number;
  /** request.numComputedTokens before the step: the position of the first scheduled token. */
  readonly startPosition: number;
  /** The request's whole block table (a copy), covering every scheduled position. */
  readonly blockIds: readonly number[];
  /**
   * The step reaches the request's last known token (startPosition + numScheduledTokens ===
   * numTokens), so its logits are sampled: one new token. A prefill chunk that stops short of the
   * end of the prompt samples nothing.
   */
  readonly sampleThisStep: boolean;
  /**
   * Set in a step built ahead (Scheduler.scheduleAhead): the row's one token is the one the step in
   * flight samples at this logits row, not yet known; the request's numOutputTokens does not count it.
   */
  readonly continuesRow?: number;
}

export interface SchedulerOutput {
  /** Rows in order: running requests first, then newly admitted ones. */
  readonly scheduled: readonly ScheduledRequest[];
  /** Sum of numScheduledTokens; at most maxNumBatchedTokens. */
  readonly numBatchedTokens: number;
  /**
   * Copy-on-write block copies, [srcBlockId, dstBlockId]: the runner copies every layer's K and V
   * of each src block into dst before this step writes any KV.
   */
  readonly blockCopies: ReadonlyArray<readonly [number, number]>;
  /** Requests preempted while building this step (their blocks are free; they will recompute). */
  readonly preemptedRequestIds: readonly string[];
  /**
   * Requests that finished since the previous step (aborted, stopped by the engine, or finished
   * in updateFromOutput): the runner drops any per-request state it keeps.
   */
  readonly finishedRequestIds: readonly string[];
}
