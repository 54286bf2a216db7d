// Shared construction for scheduler tests.
import { KvCacheManager } from '../../../lib/kv/kv-cache-manager.js';
import { Request, type RequestInit } from '../../../lib/scheduler/request.js';
import { Scheduler, type SchedulerConfig } from '../../../lib/scheduler/scheduler.js';
import { FakeModel } from '../../helpers/fake-model.js';

export interface Setup {
  scheduler: Scheduler;
  kv: KvCacheManager;
  model: FakeModel;
}

export function setup(
  config: Partial<SchedulerConfig> & { numBlocks?: number; blockSize?: number; enablePrefixCaching?: boolean } = {},
): Setup {
  const numBlocks = config.numBlocks ?? 64;
  const blockSize = config.blockSize ?? 4;
  const kv = new KvCacheManager({ numBlocks, blockSize, enablePrefixCaching: config.enablePrefixCaching ?? true });
  const scheduler = new Scheduler(
    {
      maxNumBatchedTokens: config.maxNumBatchedTokens ?? 64,
      maxNumSeqs: config.maxNumSeqs ?? 8,
      maxModelLen: config.maxModelLen ?? 256,
      ...(config.maxNumQueuedRequests !== undefined ? { maxNumQueuedRequests: config.maxNumQueuedRequests } : {}),
      ...(config.longPrefillTokenThreshold !== undefined ? { longPrefillTokenThreshold: config.longPrefillTokenThreshold } : {}),
      ...(config.policy !== undefined ? { policy: config.policy } : {}),
      ...(config.prefillTokenLimit !== undefined ? { prefillTokenLimit: config.prefillTokenLimit } : {}),
    },
    kv,
  );
  return { scheduler, kv, model: new FakeModel(numBlocks, blockSize) };
}

export const range = (start: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i);

let nextArrival = 1;
/** A request with distinct tokens per id unless promptTokenIds is given; arrival times increase. */
export function makeRequest(requestId: string, numPromptTokens: number, init: Partial<RequestInit> = {}): Request {
  const base = 1000 * (1 + [...requestId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7));
  return new Request({
    requestId,
    promptTokenIds: range(base, numPromptTokens),
    arrivalTime: nextArrival++,
    ...init,
  });
}
