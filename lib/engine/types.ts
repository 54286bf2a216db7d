// Public types of the Engine API. Engine outputs are protocol-agnostic; lib/server renders them.

export type { SamplingParamsInput } from '../sampling/sampling-params.js';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the prefix cache. */
  cachedTokens: number;
}

export interface TokenLogprob {
  tokenId: number;
  logprob: number;
  /** Top alternatives, most likely first (when logprobs > 0 was asked). */
  top: Array<{ tokenId: number; logprob: number }>;
}

/** A chunk of new output for one sample (`index` in [0, n)). */
export interface DeltaEvent {
  type: 'delta';
  index: number;
  text: string;
  tokenIds: number[];
  logprobs?: TokenLogprob[];
}

/** The end of one sample. After the final event of every sample the iterable ends. */
export interface FinalEvent {
  type: 'final';
  index: number;
  finishReason: FinishReason;
  /** The stop string or stop token id that ended the sample, when finishReason is 'stop'. */
  stopReason?: string | number;
  /** The sample's whole generated text and token ids. */
  text: string;
  tokenIds: number[];
  usage: Usage;
  metrics: RequestMetrics;
}

/** Timestamps (performance.now() milliseconds) of one request's life, for latency metrics. */
export interface RequestMetrics {
  arrivalTime: number;
  /** When the request was first scheduled (queue time = firstScheduledTime - arrivalTime). */
  firstScheduledTime: number | null;
  firstTokenTime: number | null;
  finishedTime: number;
  numPreemptions: number;
}

export type GenerateEvent = DeltaEvent | FinalEvent;

export interface GenerateOptions {
  signal?: AbortSignal;
  requestId?: string;
  /** Lower runs earlier when the engine uses the 'priority' policy. */
  priority?: number;
  /** Per-tenant salt: requests with different salts never share cached prefixes. */
  cacheSalt?: string;
}

export type PromptInput = string | { promptTokenIds: number[] };

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EngineStats {
  numRunning: number;
  numWaiting: number;
  kvBlocksUsed: number;
  kvBlocksTotal: number;
  /** Used fraction of the KV cache, 0..1. */
  kvCacheUsage: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  /** hits / queries (tokens), 0 when no queries yet. */
  prefixCacheHitRate: number;
  numPreemptions: number;
}
