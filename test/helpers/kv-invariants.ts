// Invariants of the KV cache manager and the scheduler, recomputed from scratch from the public
// introspection methods (never trusting the structures' own counters).
import assert from 'node:assert/strict';
import type { KvCacheManager } from '../../lib/kv/kv-cache-manager.js';
import type { Scheduler } from '../../lib/scheduler/scheduler.js';

export function checkKvInvariants(kv: KvCacheManager): void {
  const { pool } = kv;
  const owners = new Int32Array(kv.numBlocks);
  for (const requestId of kv.requestIds()) {
    const table = kv.getBlockIds(requestId);
    assert.equal(new Set(table).size, table.length, `${requestId} holds a block twice: ${table.join(',')}`);
    for (const blockId of table) owners[blockId] = (owners[blockId] as number) + 1;
  }
  const free = pool.freeBlockIds();
  assert.equal(new Set(free).size, free.length, 'a block is queued twice in the free queue');
  assert.equal(free.length, pool.numFreeBlocks);
  assert.equal(pool.numFreeBlocks + pool.numUsedBlocks, kv.numBlocks);
  for (let blockId = 0; blockId < kv.numBlocks; blockId++) {
    assert.equal(pool.refCount(blockId), owners[blockId], `block ${blockId}: ref count ${pool.refCount(blockId)}, held by ${owners[blockId]} tables`);
    assert.equal(pool.isFree(blockId), owners[blockId] === 0, `block ${blockId}: free=${pool.isFree(blockId)}, owners=${owners[blockId]}`);
  }
}

export function checkSchedulerInvariants(scheduler: Scheduler): void {
  const { kv } = scheduler;
  checkKvInvariants(kv);
  const running = new Set(scheduler.runningRequests.map((r) => r.requestId));
  assert.equal(running.size, scheduler.runningRequests.length, 'a request is running twice');
  assert.ok(running.size <= scheduler.config.maxNumSeqs, `${running.size} running > maxNumSeqs`);
  for (const requestId of kv.requestIds()) {
    assert.ok(running.has(requestId), `${requestId} holds blocks but is not running`);
  }
  for (const request of scheduler.runningRequests) {
    assert.equal(request.status, 'running');
    const numBlocks = kv.getBlockIds(request.requestId).length;
    assert.ok(numBlocks >= kv.numBlocksForTokens(request.numComputedTokens), `${request.requestId}: ${numBlocks} blocks for ${request.numComputedTokens} computed tokens`);
    assert.ok(request.numComputedTokens < request.numTokens, `${request.requestId}: computed ${request.numComputedTokens} of ${request.numTokens}`);
  }
  for (const request of scheduler.waitingRequests) {
    assert.ok(request.status === 'waiting' || request.status === 'preempted', `${request.requestId} waits with status ${request.status}`);
    assert.equal(kv.getBlockIds(request.requestId).length, 0, `${request.requestId} waits holding blocks`);
    assert.equal(request.numComputedTokens, 0);
  }
}
