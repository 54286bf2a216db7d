// Engine options: what callers may set, their defaults, and their validation.
import { availableParallelism } from 'node:os';
import { invalidArgument, KvserveError } from '../errors.js';
import { parseByteSize } from '../cli/parse-size.js';
import { DType, type ModelSpec } from '../model/types.js';
import { kvBytesPerToken, type KvCacheDtype } from '../native/model-description.js';
import type { DevicePreference } from '../native/cuda-probe.js';
import type { IsaName } from '../native/types.js';
import type { HubEnv } from '../model/hub/hub-env.js';
import type { SchedulingPolicy } from '../scheduler/request-queue.js';

export interface EngineOptions {
  /** A GGUF file, a Hugging Face model directory, or a hub id (org/name, org/name:file.gguf, org/name:Q4_K_M). */
  model: string;
  /** Hub revision (branch, tag or commit) for hub ids. Default 'main'. */
  revision?: string;
  /**
   * Hub settings that override the environment's (HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_TOKEN,
   * HF_HUB_OFFLINE): { endpoint, cacheDir, token, offline }.
   */
  hub?: Partial<HubEnv>;
  /** Longest prompt + output, in tokens. Default: the model's context length, capped by the KV cache. */
  maxModelLen?: number;
  /** Most sequences in one step. Default 64. */
  maxNumSeqs?: number;
  /** Token budget of one step (chunked prefill splits longer prompts). Default 1024. */
  maxNumBatchedTokens?: number;
  /** KV cache size in bytes, or a size string such as "2GiB". Default: enough for maxNumSeqs sequences of maxModelLen, at most 2 GiB. */
  kvCacheMemory?: number | string;
  /** 'auto' = f32 for F32 models, f16 otherwise. */
  kvCacheDtype?: KvCacheDtype | 'auto';
  /** Tokens per KV block. Default 16. */
  blockSize?: number;
  /** Default true. */
  enablePrefixCaching?: boolean;
  /** Compute threads. Default: the number of CPUs available. */
  threads?: number;
  /** Waiting-queue bound; a full queue refuses new requests (ERR_ENGINE_QUEUE_FULL). Default unbounded. */
  maxNumQueuedRequests?: number;
  schedulingPolicy?: SchedulingPolicy;
  /**
   * Stall-free batching: while requests decode, a step that carries prompt tokens may take at most
   * this many times as long as a decode-only step (predicted from the measured step times), so a new
   * prompt never stalls running streams; longer prompts are chunked over more steps. Default 0: off
   * (prompts take the whole token budget, as vLLM does). Opt-in: on a quiet 2-core machine serving
   * s110m Q8_0 with 64-token prompts, a factor of 2 gave a worse p99/median inter-token ratio
   * (2.3-2.5 against 1.8-2.3) and 4-7% less throughput than no limit.
   */
  maxDecodeSlowdown?: number;
  /**
   * Build each decode step while the one before it runs and queue it natively behind it, its input
   * tokens taken from that step's samples, so no JS round trip sits between two steps (vLLM's async
   * scheduling). Steps whose requests read their token history (repetition, presence or frequency
   * penalties), admit new requests or need preemption are built after the step before them ends.
   * Outputs are the same either way. Default true.
   */
  asyncScheduling?: boolean;
  /** A Jinja chat template that replaces the model's own. */
  chatTemplate?: string;
  /** Force a CPU kernel variant (default: the best this CPU runs). */
  isa?: IsaName;
  /**
   * Where the model runs: 'auto' (default) uses the CUDA backend when the CUDA addon is built and a GPU
   * passes its probe (lib/native/cuda-probe.ts), else the CPU; 'cpu' / 'cuda' force one ('cuda' fails
   * with ERR_NATIVE_CUDA_UNAVAILABLE, naming what is missing).
   */
  device?: DevicePreference;
  /** Load progress (0..1 per phase). */
  onProgress?: (progress: { phase: string; fraction: number; detail?: string }) => void;
  /** Non-fatal notices while loading (a retried download, a cached copy used without network). Default: the logger. */
  onWarning?: (message: string) => void;
}

export interface ResolvedEngineConfig {
  maxModelLen: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  blockSize: number;
  numBlocks: number;
  kvCacheDtype: KvCacheDtype;
  kvCacheBytes: number;
  enablePrefixCaching: boolean;
  threads: number;
  device: DevicePreference;
  maxNumQueuedRequests: number | undefined;
  schedulingPolicy: SchedulingPolicy;
  /** 0 = off. */
  maxDecodeSlowdown: number;
  asyncScheduling: boolean;
}

const MAX_DEFAULT_KV_BYTES = 2 * 2 ** 30;

function positiveInt(field: string, value: unknown, max = 2 ** 31 - 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalidArgument(field, `an integer in [1, ${max}]`, value);
  }
  return value;
}

/** maxDecodeSlowdown's domain: 0 (off) or a finite factor >= 1. */
export function isDecodeSlowdown(x: unknown): x is number {
  return typeof x === 'number' && (x === 0 || (x >= 1 && Number.isFinite(x)));
}

export function resolveEngineConfig(options: EngineOptions, spec: ModelSpec): ResolvedEngineConfig {
  const modelLen = spec.config.maxPositionEmbeddings;
  const blockSize = options.blockSize === undefined ? 16 : positiveInt('blockSize', options.blockSize, 1024);
  const maxNumSeqs = options.maxNumSeqs === undefined ? 64 : positiveInt('maxNumSeqs', options.maxNumSeqs, 65536);
  const maxNumBatchedTokens =
    options.maxNumBatchedTokens === undefined ? 1024 : positiveInt('maxNumBatchedTokens', options.maxNumBatchedTokens);
  const requestedLen = options.maxModelLen === undefined ? undefined : positiveInt('maxModelLen', options.maxModelLen);
  if (requestedLen !== undefined && requestedLen > modelLen) {
    throw invalidArgument('maxModelLen', `at most the model's context length ${modelLen}`, requestedLen);
  }
  const weightsAreF32 = spec.tensors.filter((t) => t.shape.length === 2).every((t) => t.dtype === DType.F32);
  const dtypeOpt = options.kvCacheDtype ?? 'auto';
  if (!['auto', 'f32', 'f16', 'bf16'].includes(dtypeOpt)) {
    throw invalidArgument('kvCacheDtype', "'auto', 'f32', 'f16' or 'bf16'", dtypeOpt);
  }
  const kvCacheDtype: KvCacheDtype = dtypeOpt === 'auto' ? (weightsAreF32 ? 'f32' : 'f16') : dtypeOpt;
  const perToken = kvBytesPerToken(spec, kvCacheDtype);
  const wantedLen = requestedLen ?? modelLen;
  const kvCacheBytes =
    options.kvCacheMemory === undefined
      ? Math.max(perToken * blockSize * 2, Math.min(MAX_DEFAULT_KV_BYTES, perToken * wantedLen * maxNumSeqs))
      : parseByteSize('kvCacheMemory', options.kvCacheMemory);
  const numBlocks = Math.floor(kvCacheBytes / (perToken * blockSize));
  if (numBlocks < 1) {
    throw invalidArgument('kvCacheMemory', `at least ${perToken * blockSize} bytes (one block of ${blockSize} tokens)`, options.kvCacheMemory);
  }
  const capacity = numBlocks * blockSize;
  if (requestedLen !== undefined && requestedLen > capacity) {
    throw new KvserveError(
      'ERR_ENGINE_KV_CAPACITY',
      `maxModelLen ${requestedLen} does not fit in the KV cache, which holds ${capacity} tokens (${numBlocks} blocks of ${blockSize}); raise kvCacheMemory or lower maxModelLen`,
    );
  }
  const threads = options.threads === undefined ? Math.max(1, availableParallelism()) : positiveInt('threads', options.threads, 1024);
  if (options.maxNumQueuedRequests !== undefined) positiveInt('maxNumQueuedRequests', options.maxNumQueuedRequests);
  const device = options.device ?? 'auto';
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') throw invalidArgument('device', "'auto', 'cpu' or 'cuda'", device);
  const maxDecodeSlowdown = options.maxDecodeSlowdown ?? 0;
  if (!isDecodeSlowdown(maxDecodeSlowdown)) {
    throw invalidArgument('maxDecodeSlowdown', 'a number >= 1, or 0 for no limit', maxDecodeSlowdown);
  }
  const asyncScheduling = options.asyncScheduling ?? true;
  if (typeof asyncScheduling !== 'boolean') throw invalidArgument('asyncScheduling', 'a boolean', asyncScheduling);
  const policy = options.schedulingPolicy ?? 'fcfs';
  if (policy !== 'fcfs' && policy !== 'priority') throw invalidArgument('schedulingPolicy', "'fcfs' or 'priority'", policy);
  return {
    maxModelLen: Math.min(wantedLen, capacity),
    maxNumSeqs,
    maxNumBatchedTokens,
    blockSize,
    numBlocks,
    kvCacheDtype,
    kvCacheBytes: numBlocks * blockSize * perToken,
    enablePrefixCaching: options.enablePrefixCaching ?? true,
    threads,
    device,
    maxNumQueuedRequests: options.maxNumQueuedRequests,
    schedulingPolicy: policy,
    maxDecodeSlowdown,
    asyncScheduling,
  };
}
