// The scheduler, vLLM v1 style. There are no prefill and decode phases: each step, every request's
// numComputedTokens catches up towards its numTokens under a token budget. A fresh prompt, a
// prompt chunk, a prefix-cache hit, a resumed (preempted) request and a decode step are the same
// arithmetic: schedule numTokens - numComputedTokens tokens, or as many as the budget allows.
//
// One step (schedule):
//   1. Running requests, in order (admission order; (priority, arrival) under 'priority'). Each
//      gets min(remaining tokens, longPrefillTokenThreshold, budget) slots. When the KV cache is
//      out of blocks, the last running request (the newest; the lowest priority under
//      'priority') is preempted: its blocks are freed, numComputedTokens = 0, and it goes back to
//      the front of the waiting queue; then the allocation is retried. If the request itself is
//      the victim, the running pass ends.
//   2. If nobody was preempted, waiting requests are admitted in queue order while the budget,
//      maxNumSeqs and the KV cache allow: the prefix cache advances numComputedTokens first. The
//      first request that does not fit stops admission (no skipping ahead).
// Stall-free batching (prefillTokenLimit): while requests decode, the prompt tokens of a step (new
// prompts, prompt chunks, recomputation after preemption) are capped, so a step carrying a new
// prompt is at most a bounded factor slower than a decode-only step and running streams never
// stall behind a long prefill (as Sarathi-Serve); the engine sets the cap from measured step times.
// Preemption is by recompute: a resumed request computes prompt + generated tokens again (much of
// it is usually still in the prefix cache) and samples only once it reaches its last token, so no
// output token is lost or repeated.
//
// After the runner's step, updateFromOutput advances numComputedTokens, appends sampled tokens,
// caches newly full blocks and finishes requests (EOS, stop ids, maxTokens, maxModelLen).
//
// n > 1: addRequest(child, { forkFrom: parentRequestId }) for each extra sample, right after the
// parent, before the parent is first scheduled. The parent computes its prompt up to the last
// token; then every child forks from it (shares its blocks, ref counted) and all of them compute
// the last prompt token in the same step, each sampling its own first token. Writes into the
// shared, partially filled last block go through copy-on-write (SchedulerOutput.blockCopies).
// The parent is admitted only when it and all its children fit under maxNumSeqs.
import { KvserveError, invalidArgument } from '../errors.js';
import type { ComputedBlocks, KvCacheManager } from '../kv/kv-cache-manager.js';
import type { FinishedStatus, Request } from './request.js';
import { RequestQueue, type SchedulingPolicy } from './request-queue.js';
import type { ScheduledRequest, SchedulerOutput } from './scheduler-output.js';
import { checkStop, type StopDecision } from './stop-check.js';

export interface SchedulerConfig {
  /** Token budget of one step (all rows together). */
  readonly maxNumBatchedTokens: number;
  /** Most requests running at once (and so rows per step). */
  readonly maxNumSeqs: number;
  /** Prompt + generated tokens of one request. */
  readonly maxModelLen: number;
  /** addRequest refuses with ERR_ENGINE_QUEUE_FULL beyond this many waiting. Default: no limit. */
  readonly maxNumQueuedRequests?: number;
  /** A request computes at most this many tokens per step (0 = no limit, the default). */
  readonly longPrefillTokenThreshold?: number;
  /** Default 'fcfs'. */
  readonly policy?: SchedulingPolicy;
  /**
   * Most prompt tokens (tokens of rows that do not sample a next token from a decode position) in a
   * step that also has `numDecodes` decode rows; called only when numDecodes > 0. Default: no cap.
   */
  readonly prefillTokenLimit?: (numDecodes: number) => number;
}

export interface AddRequestOptions {
  /** Another sample of this (waiting, never scheduled) request's prompt: n > 1. */
  readonly forkFrom?: string;
}

export interface SchedulerStats {
  readonly numRunning: number;
  /** Waiting requests, preempted ones and fork children not yet forked included. */
  readonly numWaiting: number;
  readonly numUsedBlocks: number;
  readonly numTotalBlocks: number;
  /** numUsedBlocks / numTotalBlocks. */
  readonly kvUsage: number;
  /** Prompt tokens looked up in the prefix cache at admission. */
  readonly prefixCacheQueries: number;
  /** Of those, tokens served from the cache. */
  readonly prefixCacheHits: number;
  /** Preemptions since the scheduler was created. */
  readonly numPreemptions: number;
}

interface StepState {
  budget: number;
  /** Prompt tokens this step may still take (Infinity without decode rows or a limit). */
  prefillLeft: number;
  readonly scheduled: ScheduledRequest[];
}

/** A running request whose next row is one decode token: every known token but the newest is computed, and that one is generated. */
function isDecoding(request: Request): boolean {
  return request.numOutputTokens > 0 && request.numTokens - request.numComputedTokens === 1;
}

/** Whether sampling the request reads its earlier tokens (the penalties): a step built ahead lacks one. */
function usesTokenHistory(request: Request): boolean {
  const p = request.samplingParams;
  return p !== null && (p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0);
}

function positiveInteger(field: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw invalidArgument(field, 'an integer >= 1', value);
  return value as number;
}

export class Scheduler {
  readonly config: Readonly<Required<Omit<SchedulerConfig, 'prefillTokenLimit'>>>;
  private readonly prefillTokenLimit: ((numDecodes: number) => number) | undefined;
  readonly kv: KvCacheManager;
  private readonly waiting: RequestQueue;
  private running: Request[] = [];
  /** Every unfinished request by id. */
  private readonly requests = new Map<string, Request>();
  private readonly addOrder = new Map<string, number>();
  private nextAddOrder = 0;
  /** Children waiting for their parent to reach its last prompt token, by parent id. */
  private readonly pendingForks = new Map<string, Request[]>();
  private readonly forkParentIds = new Map<string, string>();
  private finishedSinceLastStep: string[] = [];
  private numPreemptionsTotal = 0;

  constructor(config: SchedulerConfig, kv: KvCacheManager) {
    const policy = config.policy ?? 'fcfs';
    if (policy !== 'fcfs' && policy !== 'priority') throw invalidArgument('policy', '"fcfs" or "priority"', policy);
    const maxNumQueuedRequests = config.maxNumQueuedRequests ?? Number.POSITIVE_INFINITY;
    if (maxNumQueuedRequests !== Number.POSITIVE_INFINITY) positiveInteger('maxNumQueuedRequests', maxNumQueuedRequests);
    const longPrefillTokenThreshold = config.longPrefillTokenThreshold ?? 0;
    if (!Number.isSafeInteger(longPrefillTokenThreshold) || longPrefillTokenThreshold < 0) {
      throw invalidArgument('longPrefillTokenThreshold', 'an integer >= 0 (0 = off)', longPrefillTokenThreshold);
    }
    this.config = Object.freeze({
      maxNumBatchedTokens: positiveInteger('maxNumBatchedTokens', config.maxNumBatchedTokens),
      maxNumSeqs: positiveInteger('maxNumSeqs', config.maxNumSeqs),
      maxModelLen: positiveInteger('maxModelLen', config.maxModelLen),
      maxNumQueuedRequests,
      longPrefillTokenThreshold,
      policy,
    });
    this.prefillTokenLimit = config.prefillTokenLimit;
    this.kv = kv;
    this.waiting = new RequestQueue(policy, (request) => this.addOrder.get(request.requestId) ?? 0);
  }

  /**
   * Queues a new request. Throws ERR_ENGINE_PROMPT_TOO_LONG when prompt + 1 > maxModelLen,
   * ERR_ENGINE_KV_CAPACITY when its longest possible sequence (prompt + maxTokens, at most
   * maxModelLen) needs more blocks than the whole KV cache has, ERR_ENGINE_QUEUE_FULL when
   * maxNumQueuedRequests are waiting (fork children are not counted), ERR_INVALID_ARGUMENT for a
   * reused id or a bad forkFrom.
   */
  addRequest(request: Request, options: AddRequestOptions = {}): void {
    const { maxModelLen, maxNumQueuedRequests } = this.config;
    const requestId = request.requestId;
    if (this.requests.has(requestId)) throw invalidArgument('requestId', 'an id not used by an unfinished request', requestId);
    if (request.status !== 'waiting' || request.numComputedTokens !== 0 || request.numOutputTokens !== 0) {
      throw invalidArgument('request', 'a new request (waiting, nothing computed or generated)', request.status);
    }
    const numPromptTokens = request.numPromptTokens;
    if (numPromptTokens + 1 > maxModelLen) {
      throw new KvserveError(
        'ERR_ENGINE_PROMPT_TOO_LONG',
        `the prompt has ${numPromptTokens} tokens but the maximum model length is ${maxModelLen} ` +
          `(prompt plus at least one generated token must fit: at most ${maxModelLen - 1} prompt tokens)`,
      );
    }
    const maxLength = Math.min(maxModelLen, numPromptTokens + (request.maxTokens ?? maxModelLen));
    const numBlocksNeeded = this.kv.numBlocksForTokens(maxLength);
    if (numBlocksNeeded > this.kv.numBlocks) {
      throw new KvserveError(
        'ERR_ENGINE_KV_CAPACITY',
        `the request may need ${maxLength} tokens (${numPromptTokens} prompt + up to ${maxLength - numPromptTokens} generated), ` +
          `${numBlocksNeeded} KV blocks of ${this.kv.blockSize} tokens, but the KV cache holds ${this.kv.numBlocks} blocks ` +
          `(${this.kv.numBlocks * this.kv.blockSize} tokens); lower maxTokens or shorten the prompt`,
      );
    }
    if (options.forkFrom !== undefined) {
      this.addForkChild(request, options.forkFrom);
    } else {
      if (this.waiting.length >= maxNumQueuedRequests) {
        throw new KvserveError(
          'ERR_ENGINE_QUEUE_FULL',
          `the waiting queue is full: ${this.waiting.length} requests waiting, maxNumQueuedRequests is ${maxNumQueuedRequests}`,
        );
      }
      this.waiting.push(request);
    }
    this.requests.set(requestId, request);
    this.addOrder.set(requestId, this.nextAddOrder++);
  }

  /** Builds the next step. See the file header. */
  schedule(): SchedulerOutput {
    const step: StepState = { budget: this.config.maxNumBatchedTokens, prefillLeft: Number.POSITIVE_INFINITY, scheduled: [] };
    const preemptedRequestIds: string[] = [];
    if (this.config.policy === 'priority') this.running.sort((a, b) => this.waiting.compare(a, b));
    if (this.prefillTokenLimit !== undefined) {
      let numDecodes = 0;
      for (const request of this.running) if (isDecoding(request)) numDecodes++;
      // At least one prompt token per step, so prompts always progress.
      if (numDecodes > 0) step.prefillLeft = Math.max(1, Math.floor(this.prefillTokenLimit(numDecodes)));
    }

    // 1. Running requests.
    let index = 0;
    while (index < this.running.length && step.budget > 0 && step.scheduled.length < this.config.maxNumSeqs) {
      const request = this.running[index] as Request;
      const decoding = isDecoding(request);
      const numNewTokens = this.numTokensToSchedule(request, request.numComputedTokens, decoding ? step.budget : Math.min(step.budget, step.prefillLeft));
      if (numNewTokens === 0) {
        index++;
        continue;
      }
      let blockIds: readonly number[] | null = null;
      for (;;) {
        blockIds = this.kv.allocateSlots(request, numNewTokens);
        if (blockIds !== null) break;
        const victim = this.running.pop() as Request;
        this.preempt(victim);
        preemptedRequestIds.push(victim.requestId);
        if (victim === request) break;
      }
      if (blockIds === null) break;
      this.pushScheduled(step, request, numNewTokens, blockIds);
      if (!decoding) step.prefillLeft -= numNewTokens;
      index++;
    }

    // 2. Waiting requests, unless this step had to preempt.
    if (preemptedRequestIds.length === 0) this.admitWaiting(step);

    return {
      scheduled: step.scheduled,
      numBatchedTokens: this.config.maxNumBatchedTokens - step.budget,
      blockCopies: this.kv.takeBlockCopies(),
      preemptedRequestIds,
      finishedRequestIds: this.takeFinishedIds(),
    };
  }

  /**
   * Builds the step after `inFlight` (the last step built, launched but not yet applied) without
   * waiting for its samples, so the runner can queue it behind the running one. Each request of
   * inFlight that samples computes the token inFlight will sample for it (ScheduledRequest.continuesRow)
   * and samples the next. Nothing is admitted, forked or preempted here, so it applies only when
   * inFlight holds every running request, each sampling, nothing waits, the tokens its penalties
   * read are all known (no penalties), and the KV cache has the slots without preempting; otherwise it
   * returns null and the caller applies inFlight and calls schedule(). A request at its length limit
   * with inFlight's token is left out (that token finishes it).
   *
   * The rows' startPosition is the position of inFlight's token, which is what numComputedTokens
   * is once updateFromOutput(inFlight) has run: results are applied in order, as for any step, and a
   * request finished by inFlight's token (or aborted, or stopped by a string) skips its row here.
   */
  scheduleAhead(inFlight: SchedulerOutput): SchedulerOutput | null {
    if (this.waiting.length > 0 || this.pendingForks.size > 0) return null;
    const { maxModelLen, maxNumBatchedTokens } = this.config;
    const rows: Array<{ request: Request; row: number; numInFlight: number }> = [];
    let numRunningInFlight = 0;
    // Every row of inFlight samples (checked here), so a row's index is its logits row.
    for (const [row, entry] of inFlight.scheduled.entries()) {
      const request = entry.request;
      if (!entry.sampleThisStep) return null;
      // Finished (or aborted) since inFlight was built: its row there is dropped, and it has no next one.
      if (!this.isRunning(request)) continue;
      numRunningInFlight++;
      if (usesTokenHistory(request)) return null;
      // inFlight's token is output number numOutputTokens + 1 and makes numTokens + 1 tokens.
      const lengthReached = request.numTokens + 1 >= maxModelLen
        || (request.maxTokens !== null && request.numOutputTokens + 1 >= request.maxTokens);
      if (!lengthReached) rows.push({ request, row, numInFlight: entry.numScheduledTokens });
    }
    // A running request left out of inFlight (the token budget) needs schedule().
    if (numRunningInFlight !== this.running.length) return null;
    if (rows.length === 0 || rows.length > maxNumBatchedTokens) return null;
    const scheduled: ScheduledRequest[] = [];
    for (const { request, row: continuesRow, numInFlight } of rows) {
      // Slots for inFlight's tokens (already held) and for the token after them.
      const blockIds = this.kv.allocateSlots(request, numInFlight + 1, undefined, 1);
      if (blockIds === null) return null;
      scheduled.push({ request, numScheduledTokens: 1, startPosition: request.numTokens, blockIds: blockIds.slice(), sampleThisStep: true, continuesRow });
    }
    return {
      scheduled,
      numBatchedTokens: scheduled.length,
      blockCopies: this.kv.takeBlockCopies(),
      preemptedRequestIds: [],
      finishedRequestIds: this.takeFinishedIds(),
    };
  }

  /**
   * Applies a step's results: `sampledTokenIds` holds the tokens sampled for every row with
   * sampleThisStep (one per row; more are accepted, and stop at the first finishing token) and
   * nothing for the others. Rows of requests finished since schedule() (aborted) are skipped.
   * Returns the requests that finished, with status and stopReason set; their blocks are free.
   */
  updateFromOutput(output: SchedulerOutput, sampledTokenIds: ReadonlyMap<string, readonly number[]>): Request[] {
    for (const entry of output.scheduled) {
      const request = entry.request;
      if (!this.isRunning(request)) continue;
      if (request.numComputedTokens !== entry.startPosition) {
        throw new Error(`request ${request.requestId}: output applied twice or out of order (computed ${request.numComputedTokens}, step started at ${entry.startPosition})`);
      }
      const tokens = sampledTokenIds.get(request.requestId);
      if (entry.sampleThisStep) {
        if (tokens === undefined || tokens.length === 0) {
          throw invalidArgument(`sampledTokenIds[${request.requestId}]`, 'at least one sampled token id', tokens);
        }
        tokens.forEach((tokenId, i) => {
          if (!Number.isInteger(tokenId) || tokenId < 0) {
            throw invalidArgument(`sampledTokenIds[${request.requestId}][${i}]`, 'a token id (an integer >= 0)', tokenId);
          }
        });
      } else if (tokens !== undefined && tokens.length > 0) {
        throw invalidArgument(`sampledTokenIds[${request.requestId}]`, 'no tokens for a row that samples nothing', tokens);
      }
    }

    const finished: Array<[Request, StopDecision]> = [];
    for (const entry of output.scheduled) {
      const request = entry.request;
      if (!this.isRunning(request)) continue;
      request.numComputedTokens += entry.numScheduledTokens;
      let decision: StopDecision | null = null;
      if (entry.sampleThisStep) {
        for (const tokenId of sampledTokenIds.get(request.requestId) ?? []) {
          request.appendOutputToken(tokenId);
          decision = checkStop(request, this.config.maxModelLen);
          if (decision !== null) break;
        }
      }
      this.kv.cacheFullBlocks(request);
      if (decision !== null) finished.push([request, decision]);
      else if (this.pendingForks.has(request.requestId) && request.numComputedTokens === request.numPromptTokens - 1) {
        this.forkChildren(request);
      }
    }
    for (const [request, decision] of finished) this.finishRequest(request.requestId, decision.status, decision.stopReason);
    return finished.map(([request]) => request);
  }

  /** Aborts a request wherever it is; its blocks are free at once. False if unknown or finished. */
  abort(requestId: string): boolean {
    return this.finishRequest(requestId, 'finished_aborted');
  }

  /**
   * Finishes a request from outside the step (a stop string, an abort): removes it from the
   * queues, frees its blocks now and reports it in the next step's finishedRequestIds. Children
   * still waiting to fork from it become ordinary waiting requests. False if unknown or finished.
   */
  finishRequest(requestId: string, status: FinishedStatus, stopReason: number | null = null): boolean {
    const request = this.requests.get(requestId);
    if (request === undefined) return false;
    const children = this.pendingForks.get(requestId) ?? [];
    this.pendingForks.delete(requestId);
    for (const child of children) this.forkParentIds.delete(child.requestId);
    const parentId = this.forkParentIds.get(requestId);
    if (parentId !== undefined) {
      this.forkParentIds.delete(requestId);
      const siblings = this.pendingForks.get(parentId) ?? [];
      siblings.splice(siblings.indexOf(request), 1);
      if (siblings.length === 0) this.pendingForks.delete(parentId);
    } else if (request.status === 'running') {
      this.running.splice(this.running.indexOf(request), 1);
      for (let i = children.length - 1; i >= 0; i--) this.waiting.pushFront(children[i] as Request);
    } else if (children.length > 0) {
      this.waiting.replace(request, children);
    } else {
      this.waiting.remove(request);
    }
    this.kv.free(request);
    request.status = status;
    request.stopReason = stopReason;
    this.requests.delete(requestId);
    this.addOrder.delete(requestId);
    this.finishedSinceLastStep.push(requestId);
    return true;
  }

  getRequest(requestId: string): Request | undefined {
    return this.requests.get(requestId);
  }

  get numUnfinishedRequests(): number {
    return this.requests.size;
  }

  hasUnfinishedRequests(): boolean {
    return this.requests.size > 0;
  }

  /** Running requests in service order. */
  get runningRequests(): readonly Request[] {
    return this.running;
  }

  /** Waiting requests in admission order (fork children not yet forked excluded). */
  get waitingRequests(): readonly Request[] {
    return [...this.waiting];
  }

  stats(): SchedulerStats {
    const usage = this.kv.usage();
    const prefix = this.kv.prefixCacheStats();
    let numPendingChildren = 0;
    for (const children of this.pendingForks.values()) numPendingChildren += children.length;
    return {
      numRunning: this.running.length,
      numWaiting: this.waiting.length + numPendingChildren,
      numUsedBlocks: usage.numUsedBlocks,
      numTotalBlocks: usage.numTotalBlocks,
      kvUsage: usage.usage,
      prefixCacheQueries: prefix.numQueriedTokens,
      prefixCacheHits: prefix.numHitTokens,
      numPreemptions: this.numPreemptionsTotal,
    };
  }

  private admitWaiting(step: StepState): void {
    const { maxNumSeqs } = this.config;
    while (step.budget > 0 && step.prefillLeft > 0 && step.scheduled.length < maxNumSeqs) {
      const request = this.waiting.peek();
      if (request === undefined) break;
      const numSeats = 1 + (this.pendingForks.get(request.requestId)?.length ?? 0);
      if (this.running.length + this.numReservedSeats() + numSeats > maxNumSeqs) break;
      const computed: ComputedBlocks = this.kv.getComputedBlocks(request);
      const numNewTokens = this.numTokensToSchedule(request, computed.numComputedTokens, Math.min(step.budget, step.prefillLeft));
      const blockIds = this.kv.allocateSlots(request, numNewTokens, computed);
      if (blockIds === null) break;
      this.waiting.pop();
      request.status = 'running';
      request.numComputedTokens = computed.numComputedTokens;
      request.numCachedTokens ??= computed.numComputedTokens;
      this.running.push(request);
      if (numNewTokens > 0) {
        this.pushScheduled(step, request, numNewTokens, blockIds);
        step.prefillLeft -= numNewTokens;
      } else {
        // Only a parent already at its last prompt token schedules nothing: fork now, and run
        // it and its children this step if they fit (no preemption for them here).
        for (const member of [request, ...this.forkChildren(request)]) {
          if (step.budget === 0 || step.scheduled.length >= maxNumSeqs) break;
          const numTokens = this.numTokensToSchedule(member, member.numComputedTokens, step.budget);
          const memberBlockIds = numTokens > 0 ? this.kv.allocateSlots(member, numTokens) : null;
          if (memberBlockIds !== null) this.pushScheduled(step, member, numTokens, memberBlockIds);
        }
      }
    }
  }

  /**
   * Tokens to compute for `request` this step, starting at `numComputed`: the rest of its known
   * tokens, at most longPrefillTokenThreshold and the budget; a parent with children to fork stops
   * before its last prompt token.
   */
  private numTokensToSchedule(request: Request, numComputed: number, budget: number): number {
    let numTokens = request.numTokens - numComputed;
    const threshold = this.config.longPrefillTokenThreshold;
    if (threshold > 0 && numTokens > threshold) numTokens = threshold;
    if (this.pendingForks.has(request.requestId)) {
      numTokens = Math.min(numTokens, request.numPromptTokens - 1 - numComputed);
    }
    return Math.max(0, Math.min(numTokens, budget));
  }

  private pushScheduled(step: StepState, request: Request, numScheduledTokens: number, blockIds: readonly number[]): void {
    const startPosition = request.numComputedTokens;
    step.scheduled.push({
      request,
      numScheduledTokens,
      startPosition,
      blockIds: blockIds.slice(),
      sampleThisStep: startPosition + numScheduledTokens === request.numTokens,
    });
    step.budget -= numScheduledTokens;
  }

  private preempt(request: Request): void {
    this.kv.free(request);
    request.status = 'preempted';
    request.numComputedTokens = 0;
    request.numPreemptions++;
    this.numPreemptionsTotal++;
    this.waiting.pushFront(request);
  }

  /** Forks every pending child from `parent` (at its last prompt token); they run after it. */
  private forkChildren(parent: Request): Request[] {
    const children = this.pendingForks.get(parent.requestId);
    if (children === undefined) return [];
    this.pendingForks.delete(parent.requestId);
    for (const child of children) {
      this.forkParentIds.delete(child.requestId);
      this.kv.fork(parent, child);
      child.numComputedTokens = parent.numComputedTokens;
      child.numCachedTokens = parent.numComputedTokens;
      child.status = 'running';
    }
    this.running.splice(this.running.indexOf(parent) + 1, 0, ...children);
    return children;
  }

  private addForkChild(child: Request, parentId: string): void {
    const parent = this.requests.get(parentId);
    if (parent === undefined || parent.status !== 'waiting' || parent.numCachedTokens !== null || this.forkParentIds.has(parentId)) {
      throw invalidArgument('forkFrom', 'the id of a waiting request that was never scheduled and is not a fork itself', parentId);
    }
    const samePrompt = child.numPromptTokens === parent.numPromptTokens
      && child.promptTokenIds.every((tokenId, i) => tokenId === parent.promptTokenIds[i]);
    if (!samePrompt) throw invalidArgument('promptTokenIds', `the prompt of ${parentId}`, child.promptTokenIds);
    if (child.cacheSalt !== parent.cacheSalt) throw invalidArgument('cacheSalt', `the cache salt of ${parentId}`, child.cacheSalt);
    const siblings = this.pendingForks.get(parentId) ?? [];
    if (siblings.length + 2 > this.config.maxNumSeqs) {
      throw invalidArgument('n', `at most maxNumSeqs (${this.config.maxNumSeqs}) samples per prompt`, siblings.length + 2);
    }
    siblings.push(child);
    this.pendingForks.set(parentId, siblings);
    this.forkParentIds.set(child.requestId, parentId);
  }

  /** Seats under maxNumSeqs held for children of running parents that have not forked yet. */
  private numReservedSeats(): number {
    let numSeats = 0;
    for (const [parentId, children] of this.pendingForks) {
      if (this.requests.get(parentId)?.status === 'running') numSeats += children.length;
    }
    return numSeats;
  }

  private isRunning(request: Request): boolean {
    return request.status === 'running' && this.requests.get(request.requestId) === request;
  }

  private takeFinishedIds(): string[] {
    const ids = this.finishedSinceLastStep;
    this.finishedSinceLastStep = [];
    return ids;
  }
}
