// A Request: one generation sequence as the scheduler sees it. Its tokens (prompt then output),
// how many of them have KV in the cache (numComputedTokens), and the limits that decide when it
// finishes. Sampling details stay in `samplingParams` for the runner; the scheduler reads only
// the fields copied out here.
import { invalidArgument } from '../errors.js';
import type { BlockHash } from '../kv/block-hash.js';
import type { KvRequest } from '../kv/kv-cache-manager.js';
import type { SamplingParams } from '../sampling/sampling-params.js';

export type RequestStatus =
  | 'waiting'
  | 'running'
  /** Evicted by the scheduler (blocks freed); waiting to be recomputed. */
  | 'preempted'
  /** EOS, a stop token id, or a stop string (the engine calls finishRequest). */
  | 'finished_stopped'
  /** maxTokens generated, or maxModelLen reached. */
  | 'finished_length'
  | 'finished_aborted';

export type FinishedStatus = Extract<RequestStatus, `finished_${string}`>;

export function isFinishedStatus(status: RequestStatus): status is FinishedStatus {
  return status.startsWith('finished_');
}

export interface RequestInit {
  readonly requestId: string;
  readonly promptTokenIds: readonly number[];
  /** null/undefined: up to maxModelLen - promptLength (applied by the scheduler). */
  readonly maxTokens?: number | null;
  readonly minTokens?: number;
  readonly ignoreEos?: boolean;
  readonly stopTokenIds?: readonly number[];
  /** The model's EOS ids (tokenizer eos plus generation_config eos_token_id). */
  readonly eosTokenIds?: readonly number[];
  /** Lower runs earlier under the 'priority' policy. Default 0. */
  readonly priority?: number;
  /** Milliseconds; orders FCFS ties. Default Date.now(). */
  readonly arrivalTime?: number;
  /** Tenant key for the prefix cache: requests with different salts share no blocks. */
  readonly cacheSalt?: string | null;
  readonly samplingParams?: SamplingParams | null;
}

export interface RequestOptions {
  readonly eosTokenIds?: readonly number[];
  readonly priority?: number;
  readonly arrivalTime?: number;
  readonly cacheSalt?: string | null;
}

export class Request implements KvRequest {
  readonly requestId: string;
  readonly promptTokenIds: readonly number[];
  readonly maxTokens: number | null;
  readonly minTokens: number;
  readonly ignoreEos: boolean;
  readonly stopTokenIds: ReadonlySet<number>;
  readonly eosTokenIds: ReadonlySet<number>;
  readonly priority: number;
  readonly arrivalTime: number;
  readonly cacheSalt: string | null;
  readonly samplingParams: SamplingParams | null;
  /** Tokens whose KV is in the cache. */
  numComputedTokens = 0;
  /** Prompt tokens served by the prefix cache (or a fork) when first scheduled; null before. */
  numCachedTokens: number | null = null;
  status: RequestStatus = 'waiting';
  numPreemptions = 0;
  /** The stop token id that finished the request, when one did. */
  stopReason: number | null = null;
  /** Hashes of full blocks, filled by the KV cache manager; kept across preemptions. */
  readonly blockHashes: BlockHash[] = [];
  private readonly tokenIds: number[];
  private readonly outputIds: number[] = [];

  constructor(init: RequestInit) {
    if (typeof init.requestId !== 'string' || init.requestId.length === 0) {
      throw invalidArgument('requestId', 'a non-empty string', init.requestId);
    }
    if (!Array.isArray(init.promptTokenIds) || init.promptTokenIds.length === 0) {
      throw invalidArgument('promptTokenIds', 'a non-empty array of token ids', init.promptTokenIds);
    }
    init.promptTokenIds.forEach((tokenId, index) => {
      if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId > 0x7fffffff) {
        throw invalidArgument(`promptTokenIds[${index}]`, 'a token id (an integer >= 0)', tokenId);
      }
    });
    const maxTokens = init.maxTokens ?? null;
    if (maxTokens !== null && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
      throw invalidArgument('maxTokens', 'an integer >= 1 or null', maxTokens);
    }
    const minTokens = init.minTokens ?? 0;
    if (!Number.isInteger(minTokens) || minTokens < 0) throw invalidArgument('minTokens', 'an integer >= 0', minTokens);
    const priority = init.priority ?? 0;
    if (!Number.isFinite(priority)) throw invalidArgument('priority', 'a finite number', priority);
    const arrivalTime = init.arrivalTime ?? Date.now();
    if (!Number.isFinite(arrivalTime)) throw invalidArgument('arrivalTime', 'a finite number', arrivalTime);
    const cacheSalt = init.cacheSalt ?? null;
    if (cacheSalt !== null && typeof cacheSalt !== 'string') throw invalidArgument('cacheSalt', 'a string or null', cacheSalt);

    this.requestId = init.requestId;
    this.promptTokenIds = Object.freeze([...init.promptTokenIds]);
    this.tokenIds = [...init.promptTokenIds];
    this.maxTokens = maxTokens;
    this.minTokens = minTokens;
    this.ignoreEos = init.ignoreEos ?? false;
    this.stopTokenIds = new Set(init.stopTokenIds ?? []);
    this.eosTokenIds = new Set(init.eosTokenIds ?? []);
    this.priority = priority;
    this.arrivalTime = arrivalTime;
    this.cacheSalt = cacheSalt;
    this.samplingParams = init.samplingParams ?? null;
  }

  /** A request whose limits come from validated SamplingParams. */
  static fromSamplingParams(
    requestId: string,
    promptTokenIds: readonly number[],
    params: SamplingParams,
    options: RequestOptions = {},
  ): Request {
    return new Request({
      requestId,
      promptTokenIds,
      maxTokens: params.maxTokens,
      minTokens: params.minTokens,
      ignoreEos: params.ignoreEos,
      stopTokenIds: params.stopTokenIds,
      eosTokenIds: options.eosTokenIds ?? [],
      priority: options.priority ?? 0,
      arrivalTime: options.arrivalTime ?? Date.now(),
      cacheSalt: options.cacheSalt ?? null,
      samplingParams: params,
    });
  }

  /** Prompt then output tokens. */
  get allTokenIds(): readonly number[] {
    return this.tokenIds;
  }

  get outputTokenIds(): readonly number[] {
    return this.outputIds;
  }

  get numTokens(): number {
    return this.tokenIds.length;
  }

  get numPromptTokens(): number {
    return this.promptTokenIds.length;
  }

  get numOutputTokens(): number {
    return this.outputIds.length;
  }

  get isFinished(): boolean {
    return isFinishedStatus(this.status);
  }

  /** Appends a generated token (the scheduler does this from the step's sampled tokens). */
  appendOutputToken(tokenId: number): void {
    this.tokenIds.push(tokenId);
    this.outputIds.push(tokenId);
  }
}
