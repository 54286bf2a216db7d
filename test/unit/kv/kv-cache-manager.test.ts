import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockHash } from '../../../lib/kv/block-hash.js';
import { KvCacheManager, slotForPosition, type KvRequest } from '../../../lib/kv/kv-cache-manager.js';
import { checkKvInvariants } from '../../helpers/kv-invariants.js';

/** A minimal KvRequest: tokens known, numComputedTokens set by the test as a scheduler would. */
class Seq implements KvRequest {
  numComputedTokens = 0;
  readonly blockHashes: BlockHash[] = [];
  readonly allTokenIds: number[];
  constructor(readonly requestId: string, tokenIds: number[], readonly cacheSalt: string | null = null) {
    this.allTokenIds = [...tokenIds];
  }
}

const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);

/** Admits `seq` with its prefix hit, computes all of its tokens, caches the full blocks. */
function computeAll(kv: KvCacheManager, seq: Seq): { hitTokens: number; blockIds: readonly number[] } {
  const computed = kv.getComputedBlocks(seq);
  const blockIds = kv.allocateSlots(seq, seq.allTokenIds.length - computed.numComputedTokens, computed);
  assert.ok(blockIds, `allocation for ${seq.requestId} failed`);
  seq.numComputedTokens = seq.allTokenIds.length;
  kv.cacheFullBlocks(seq);
  return { hitTokens: computed.numComputedTokens, blockIds: [...blockIds] };
}

test('prefix hits: exactly the cached full blocks, never the whole prompt', () => {
  const kv = new KvCacheManager({ numBlocks: 32, blockSize: 4 });
  const a = new Seq('a', range(100, 10)); // blocks [100..103] [104..107] + 2 tokens
  const { hitTokens, blockIds: aBlocks } = computeAll(kv, a);
  assert.equal(hitTokens, 0);

  const longer = new Seq('longer', [...range(100, 10), 1, 2, 3]);
  const hit = kv.getComputedBlocks(longer);
  assert.equal(hit.numComputedTokens, 8, 'two full blocks of 4');
  assert.deepEqual(hit.blockIds, aBlocks.slice(0, 2));

  // A prompt of exactly two cached blocks may reuse only the first: its last token must run.
  assert.equal(kv.getComputedBlocks(new Seq('exact', range(100, 8))).numComputedTokens, 4);
  assert.equal(kv.getComputedBlocks(new Seq('exact+1', range(100, 9))).numComputedTokens, 8);
  // Divergence inside the second block: only the first hits.
  assert.equal(kv.getComputedBlocks(new Seq('diverge', [...range(100, 6), 0, 0, 0, 0])).numComputedTokens, 4);
  // Divergence in the first block: nothing.
  assert.equal(kv.getComputedBlocks(new Seq('other', [0, ...range(101, 9)])).numComputedTokens, 0);
  // A single-block prompt never hits.
  assert.equal(kv.getComputedBlocks(new Seq('one', range(100, 4))).numComputedTokens, 0);

  // Taking the hit shares the blocks (ref counts) and records prefix-cache stats.
  const blockIds = kv.allocateSlots(longer, 13 - 8, hit);
  assert.ok(blockIds);
  assert.deepEqual(blockIds.slice(0, 2), aBlocks.slice(0, 2));
  assert.equal(kv.pool.refCount(aBlocks[0] as number), 2);
  assert.deepEqual(kv.prefixCacheStats(), { numQueriedRequests: 2, numHitRequests: 1, numQueriedTokens: 10 + 13, numHitTokens: 8 });
  checkKvInvariants(kv);
});

test('slots: block id * blockSize + offset, per position', () => {
  const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
  const seq = new Seq('s', range(0, 9));
  kv.pool.allocate(2); // make the request's blocks non-trivial: it gets 2, 3, 4
  const blockIds = kv.allocateSlots(seq, 9);
  assert.deepEqual(blockIds, [2, 3, 4]);
  assert.deepEqual(range(0, 9).map((p) => slotForPosition(blockIds as number[], 4, p)), [8, 9, 10, 11, 12, 13, 14, 15, 16]);
  assert.throws(() => slotForPosition(blockIds as number[], 4, 12), /past the block table/);
});

test('allocateSlots grows a table block by block and refuses (null, nothing changed) when short', () => {
  const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
  const seq = new Seq('s', range(0, 20));
  assert.deepEqual(kv.allocateSlots(seq, 3), [0]);
  seq.numComputedTokens = 3;
  assert.deepEqual(kv.allocateSlots(seq, 1), [0], 'the fourth token fits in block 0');
  seq.numComputedTokens = 4;
  assert.deepEqual(kv.allocateSlots(seq, 9), [0, 1, 2, 3]);
  seq.numComputedTokens = 13;
  assert.equal(kv.allocateSlots(seq, 4), null, 'a fifth block does not exist');
  assert.deepEqual(kv.getBlockIds('s'), [0, 1, 2, 3]);
  assert.throws(() => kv.allocateSlots(seq, 8), /only 20 known/);
  checkKvInvariants(kv);
});

test('free releases tail first (the tail is evicted before the head); usage returns to 0', () => {
  const kv = new KvCacheManager({ numBlocks: 6, blockSize: 2 });
  const a = new Seq('a', range(0, 6));
  const b = new Seq('b', range(50, 4));
  computeAll(kv, a); // blocks 0 1 2
  computeAll(kv, b); // blocks 3 4
  assert.deepEqual(kv.usage(), { numUsedBlocks: 5, numTotalBlocks: 6, usage: 5 / 6 });
  kv.free(a);
  kv.free(b);
  assert.deepEqual(kv.pool.freeBlockIds(), [5, 2, 1, 0, 4, 3]);
  assert.deepEqual(kv.usage(), { numUsedBlocks: 0, numTotalBlocks: 6, usage: 0 });
  assert.equal(kv.pool.numCachedBlocks, 5, 'freed blocks stay cached until evicted');
  kv.free(a); // freeing twice is a no-op
  checkKvInvariants(kv);

  // New content evicts the oldest: a's tail (2) goes before a's head (0).
  const c = new Seq('c', range(200, 4));
  assert.deepEqual(kv.allocateSlots(c, 4), [5, 2]);
  assert.equal(kv.getComputedBlocks(new Seq('a2', range(0, 6))).numComputedTokens, 4, 'a keeps its first two blocks');
});

test('null when short counts evictable cached blocks as free, but not the hit blocks being taken', () => {
  const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
  const a = new Seq('a', range(0, 4));
  computeAll(kv, a); // blocks 0 1, cached
  kv.free(a); // all 4 free, 2 of them cached
  // b: hit on block 0 (evictable) + 3 new tokens after it -> needs 2 more blocks: 1 + 2 <= 4.
  const b = new Seq('b', [0, 1, 7, 7, 7]);
  const hit = kv.getComputedBlocks(b);
  assert.equal(hit.numComputedTokens, 2);
  assert.ok(kv.allocateSlots(b, 3, hit));
  kv.free(b);
  // c: hit on block 0 + 7 tokens after it -> 4 new blocks + the hit = 5 > 4.
  const c = new Seq('c', [0, 1, 7, 7, 7, 7, 7, 7, 7]);
  const hitC = kv.getComputedBlocks(c);
  assert.equal(hitC.numComputedTokens, 2);
  const before = kv.pool.freeBlockIds();
  assert.equal(kv.allocateSlots(c, 7, hitC), null);
  assert.deepEqual(kv.pool.freeBlockIds(), before, 'nothing changed');
  assert.equal(kv.pool.refCount(hitC.blockIds[0] as number), 0);
  // Without the hit the same 9 tokens need 5 blocks: also null; 8 tokens fit exactly, evicting.
  assert.ok(kv.allocateSlots(new Seq('d', range(300, 8)), 8));
  assert.equal(kv.pool.numCachedBlocks, 0, 'every cached block was evicted for new content');
  checkKvInvariants(kv);
});

test('salt isolation: different salts share nothing; the same salt shares', () => {
  const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
  computeAll(kv, new Seq('a', range(0, 12), 'tenant-a'));
  assert.equal(kv.getComputedBlocks(new Seq('b', range(0, 12), 'tenant-b')).numComputedTokens, 0);
  assert.equal(kv.getComputedBlocks(new Seq('none', range(0, 12), null)).numComputedTokens, 0);
  assert.equal(kv.getComputedBlocks(new Seq('a2', range(0, 12), 'tenant-a')).numComputedTokens, 8);
  computeAll(kv, new Seq('n', range(0, 12), null));
  assert.equal(kv.getComputedBlocks(new Seq('n2', range(0, 12), null)).numComputedTokens, 8);
  assert.equal(kv.getComputedBlocks(new Seq('b2', range(0, 12), 'tenant-b')).numComputedTokens, 0);
});

test('a colliding hash function (every block hashes the same) never shares wrong blocks', () => {
  const kv = new KvCacheManager({ numBlocks: 32, blockSize: 4, hashBlock: () => '0000000000000000' });
  const a = computeAll(kv, new Seq('a', range(0, 12)));
  const b = computeAll(kv, new Seq('b', [...range(0, 4), ...range(50, 8)])); // shares a's first block only
  assert.equal(b.hitTokens, 4);
  assert.equal(b.blockIds[0], a.blockIds[0]);
  assert.equal(kv.getComputedBlocks(new Seq('c', range(100, 12))).numComputedTokens, 0);
  const again = kv.getComputedBlocks(new Seq('a2', [...range(0, 12), 5]));
  assert.deepEqual(again.blockIds, a.blockIds.slice(0, 3));
  const bAgain = kv.getComputedBlocks(new Seq('b2', [...range(0, 4), ...range(50, 8), 5]));
  assert.deepEqual(bAgain.blockIds, b.blockIds.slice(0, 3));
  // Same tokens in block 2 but after a different block 1: no sharing.
  const mixed = kv.getComputedBlocks(new Seq('mixed', [...range(0, 4), ...range(50, 4), ...range(8, 4), 5]));
  assert.equal(mixed.numComputedTokens, 8);
  assert.deepEqual(mixed.blockIds, b.blockIds.slice(0, 2));
});

test('fork shares every block; copy-on-write on the shared partial block, with a copy for the runner', () => {
  const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
  const prompt = range(10, 6);
  const parent = new Seq('p', prompt);
  assert.deepEqual(kv.allocateSlots(parent, 5), [0, 1]); // computes 5 of 6 prompt tokens
  parent.numComputedTokens = 5;
  kv.cacheFullBlocks(parent);
  const child = new Seq('c', prompt);
  kv.fork(parent, child);
  child.numComputedTokens = 5;
  assert.deepEqual(kv.getBlockIds('c'), [0, 1]);
  assert.equal(kv.pool.refCount(0), 2);
  assert.equal(kv.pool.refCount(1), 2);
  checkKvInvariants(kv);

  // The parent writes position 5 into block 1 (shared, holds position 4): it gets a fresh copy.
  assert.deepEqual(kv.allocateSlots(parent, 1), [0, 2]);
  assert.deepEqual(kv.takeBlockCopies(), [[1, 2]]);
  assert.equal(kv.pool.refCount(1), 1);
  // The child is now the only holder of block 1: it writes in place, no copy.
  assert.deepEqual(kv.allocateSlots(child, 1), [0, 1]);
  assert.deepEqual(kv.takeBlockCopies(), []);
  assert.equal(kv.pool.refCount(0), 2, 'the full block stays shared');
  checkKvInvariants(kv);
  kv.free(parent);
  kv.free(child);
  assert.equal(kv.usage().numUsedBlocks, 0);
});

test('fork at a block boundary needs no copy; fork validates tokens and salt; copies of freed requests are dropped', () => {
  const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
  const parent = new Seq('p', range(0, 9));
  kv.allocateSlots(parent, 8);
  parent.numComputedTokens = 8;
  const child = new Seq('c', range(0, 9));
  kv.fork(parent, child);
  child.numComputedTokens = 8;
  assert.deepEqual(kv.allocateSlots(child, 1), [0, 1, 2]);
  assert.deepEqual(kv.allocateSlots(parent, 1), [0, 1, 3]);
  assert.deepEqual(kv.takeBlockCopies(), []);
  assert.throws(() => kv.fork(parent, new Seq('x', [0, 1, 2, 3, 4, 5, 6, 99, 8])), /differs .* at token 7/);
  assert.throws(() => kv.fork(parent, new Seq('y', range(0, 9), 'salt')), /cache salts/);
  assert.throws(() => kv.fork(parent, child), /already has blocks/);

  const p2 = new Seq('p2', range(0, 3));
  kv.allocateSlots(p2, 2);
  p2.numComputedTokens = 2;
  const c2 = new Seq('c2', range(0, 3));
  kv.fork(p2, c2);
  c2.numComputedTokens = 2;
  kv.allocateSlots(c2, 1); // copy queued for c2
  kv.free(c2); // ... then c2 is gone before the step: its copy must not run
  assert.deepEqual(kv.takeBlockCopies(), []);
  checkKvInvariants(kv);
});

test('with prefix caching off there are no hits and nothing is cached', () => {
  const kv = new KvCacheManager({ numBlocks: 8, blockSize: 2, enablePrefixCaching: false });
  computeAll(kv, new Seq('a', range(0, 8)));
  assert.equal(kv.pool.numCachedBlocks, 0);
  assert.equal(kv.getComputedBlocks(new Seq('b', range(0, 8))).numComputedTokens, 0);
});
