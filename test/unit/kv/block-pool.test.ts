import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockPool } from '../../../lib/kv/block-pool.js';
import { KvserveError } from '../../../lib/errors.js';

const key = (tokenIds: number[], parentBlockId = -1, extraKey: string | null = null) => ({ tokenIds, start: 0, parentBlockId, extraKey });

test('a new pool has every block free in id order; allocate takes from the front with ref count 1', () => {
  const pool = new BlockPool(6, 4);
  assert.deepEqual(pool.freeBlockIds(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(pool.allocate(3), [0, 1, 2]);
  assert.equal(pool.numFreeBlocks, 3);
  assert.equal(pool.numUsedBlocks, 3);
  for (const id of [0, 1, 2]) assert.equal(pool.refCount(id), 1);
  assert.equal(pool.refCount(3), 0);
  assert.throws(() => pool.allocate(4), (e: unknown) => e instanceof KvserveError && e.code === 'ERR_ENGINE_KV_CAPACITY');
  assert.equal(pool.numFreeBlocks, 3, 'a refused allocation takes nothing');
});

test('LRU: blocks freed earlier are allocated (evicted) first, in the order given to free()', () => {
  const pool = new BlockPool(6, 4);
  const a = pool.allocate(2); // [0, 1]
  const b = pool.allocate(2); // [2, 3]
  pool.free([...a].reverse()); // tail first, as a request frees
  pool.free([...b].reverse());
  assert.deepEqual(pool.freeBlockIds(), [4, 5, 1, 0, 3, 2]);
  assert.deepEqual(pool.allocate(6), [4, 5, 1, 0, 3, 2]);
});

test('ref counts: touch takes a reference, free drops one; a block is free only at 0', () => {
  const pool = new BlockPool(4, 2);
  const [id] = pool.allocate(1) as [number];
  pool.touch([id]);
  assert.equal(pool.refCount(id), 2);
  pool.free([id]);
  assert.equal(pool.refCount(id), 1);
  assert.equal(pool.isFree(id), false);
  pool.free([id]);
  assert.equal(pool.isFree(id), true);
  assert.throws(() => pool.free([id]), /freed more often/);
  assert.throws(() => pool.touch([id]), /not cached/, 'a free uncached block cannot be touched (nothing to hit)');
  assert.throws(() => pool.refCount(4), /out of range/);
});

test('a cached block stays cached when freed, is found by lookup, and touch takes it out of the middle of the free queue', () => {
  const pool = new BlockPool(5, 2);
  const ids = pool.allocate(3); // [0, 1, 2]
  pool.cacheBlock(1, 'h1', key([7, 8]));
  pool.free([...ids].reverse()); // queue: 3 4 2 1 0
  assert.deepEqual(pool.freeBlockIds(), [3, 4, 2, 1, 0]);
  assert.equal(pool.isCached(1), true);
  assert.equal(pool.numCachedBlocks, 1);
  assert.equal(pool.findCachedBlock('h1', key([7, 8])), 1);
  pool.touch([1]);
  assert.equal(pool.refCount(1), 1);
  assert.deepEqual(pool.freeBlockIds(), [3, 4, 2, 0], 'removed from the middle, order of the rest kept');
  assert.equal(pool.isCached(1), true, 'a hit keeps the cache entry');
  pool.free([1]);
  assert.deepEqual(pool.freeBlockIds(), [3, 4, 2, 0, 1], 'freed again: most recently used, evicted last');
});

test('allocating a cached free block evicts it: its hash entry is gone', () => {
  const pool = new BlockPool(2, 2);
  pool.allocate(2);
  pool.cacheBlock(0, 'h0', key([1, 2]));
  pool.free([0, 1]);
  assert.deepEqual(pool.allocate(1), [0]);
  assert.equal(pool.isCached(0), false);
  assert.equal(pool.blockHash(0), null);
  assert.equal(pool.numCachedBlocks, 0);
  assert.equal(pool.findCachedBlock('h0', key([1, 2])), -1);
});

test('hash collisions never share: lookups verify tokens, salt and the exact parent', () => {
  const pool = new BlockPool(6, 2);
  pool.allocate(6);
  // Two different blocks under one hash: each lookup finds the one whose tokens match.
  pool.cacheBlock(0, 'same', key([1, 2]));
  pool.cacheBlock(1, 'same', key([3, 4]));
  assert.equal(pool.findCachedBlock('same', key([1, 2])), 0);
  assert.equal(pool.findCachedBlock('same', key([3, 4])), 1);
  assert.equal(pool.findCachedBlock('same', key([5, 6])), -1);
  // Salt (first blocks): same tokens and hash, other tenant: miss.
  pool.cacheBlock(2, 'salted', key([1, 2], -1, 'a'));
  assert.equal(pool.findCachedBlock('salted', key([1, 2], -1, 'a')), 2);
  assert.equal(pool.findCachedBlock('salted', key([1, 2], -1, 'b')), -1);
  assert.equal(pool.findCachedBlock('salted', key([1, 2], -1, null)), -1);
  // Parent: block 3 = [9, 9] after block 0. Looked up after block 1 (same hash as 0, other
  // contents) it must miss, though hash and tokens match.
  pool.cacheBlock(3, 'child', key([9, 9], 0));
  assert.equal(pool.findCachedBlock('child', key([9, 9], 0)), 3);
  assert.equal(pool.findCachedBlock('child', key([9, 9], 1)), -1);
  assert.equal(pool.findCachedBlock('child', key([9, 9], -1)), -1);
});

test('a parent evicted and re-cached with other contents under the same hash does not revive its old children', () => {
  const pool = new BlockPool(3, 2);
  pool.allocate(2); // 0, 1
  pool.cacheBlock(0, 'p', key([1, 1]));
  pool.cacheBlock(1, 'c', key([2, 2], 0));
  pool.free([1, 0]); // queue: 2 1 0
  assert.deepEqual(pool.allocate(3), [2, 1, 0]); // evicts 1 then 0
  pool.free([1]); // block 1 is free and uncached; re-cache block 0 with other contents, same hash:
  pool.cacheBlock(0, 'p', key([5, 5]));
  pool.allocate(1); // reuse block 1 ...
  pool.cacheBlock(1, 'c', key([2, 2], 0)); // ... a genuine child of the new block 0
  assert.equal(pool.findCachedBlock('c', key([2, 2], 0)), 1);

  // Now the stale-child case: cache child 2 under parent 0, then evict and re-cache 0.
  const pool2 = new BlockPool(3, 2);
  pool2.allocate(3);
  pool2.cacheBlock(0, 'p', key([1, 1]));
  pool2.cacheBlock(1, 'c', key([2, 2], 0)); // KV of block 1 was computed after [1, 1]
  pool2.free([0]);
  pool2.free([1]);
  assert.deepEqual(pool2.allocate(1), [0]); // evicts the parent; the child stays cached
  pool2.cacheBlock(0, 'p', key([7, 7])); // same block id, same (colliding) hash, other tokens
  assert.equal(pool2.findCachedBlock('p', key([7, 7])), 0);
  assert.equal(pool2.findCachedBlock('c', key([2, 2], 0)), -1, 'the old child was computed after [1, 1], not [7, 7]');
});

test('cacheBlock refuses free blocks, partial blocks and orphans; evictAllFree drops free entries only', () => {
  const pool = new BlockPool(4, 2);
  pool.allocate(2);
  assert.throws(() => pool.cacheBlock(2, 'x', key([1, 2])), /while free/);
  assert.throws(() => pool.cacheBlock(0, 'x', key([1])), /not full/);
  assert.throws(() => pool.cacheBlock(1, 'x', key([1, 2], 0)), /before its parent/);
  pool.cacheBlock(0, 'a', key([1, 2]));
  pool.cacheBlock(1, 'b', key([3, 4], 0));
  pool.free([1]);
  assert.equal(pool.evictAllFree(), 1);
  assert.equal(pool.isCached(0), true);
  assert.equal(pool.isCached(1), false);
});

test('constructor validates its arguments', () => {
  assert.throws(() => new BlockPool(0, 16), /numBlocks: expected an integer >= 1, got 0/);
  assert.throws(() => new BlockPool(4, 1.5), /blockSize: expected an integer >= 1, got 1.5/);
});
