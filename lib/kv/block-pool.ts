// The block pool: `numBlocks` KV blocks of `blockSize` token slots each, with ref counts, the free
// queue in eviction order, and the prefix cache (block hash -> cached full blocks).
//
// Life of a block:
//   free, uncached   ref 0, in the free queue, no hash.
//   in use           ref >= 1 (one per request block table holding it; n > 1 siblings and prefix
//                    hits share a block by taking another reference), not in the free queue.
//   cached           a FULL block whose contents are final gets a hash (cacheBlock). It stays
//                    cached while in use and after its last reference is dropped: then it sits in
//                    the free queue as an eviction candidate. A prefix-cache hit "touches" it back
//                    (removed from the queue in O(1), ref 1). Allocating it for new content evicts
//                    it: its hash entry is removed first.
//
// Eviction order is LRU: freed blocks go to the back of the queue and allocation takes from the
// front, so blocks freed earlier are evicted first. A request frees its block table in reverse
// (see KvCacheManager.free) so the tail of a sequence is evicted before its head: the head is the
// part other requests are most likely to share.
//
// Collision safety: each cached block keeps its token ids, its salt (first blocks) and the cache
// generation of its parent block. Lookups verify all three, so a hash collision is a miss, never
// wrong sharing. The generation (a counter bumped every time any block is cached) pins the exact
// parent contents: if the parent block is evicted and reused, its new generation differs.
//
// Null block: none. Every block id in [0, numBlocks) is allocatable. Consumers that need padding
// (block-table rows shorter than the widest, padded tokens) pad block tables with any id (the
// attention kernel never reads past seqLens) and give padded tokens slot -1 (kv_cache_write skips
// negative slots, as vLLM's reshape_and_cache does).
import { invalidArgument, KvserveError } from '../errors.js';
import type { BlockHash } from './block-hash.js';
import { FreeBlockQueue } from './free-block-queue.js';

/** What a lookup must match besides the hash. */
export interface BlockContentKey {
  /** The request's tokens; the block covers `tokenIds[start, start + blockSize)`. */
  readonly tokenIds: ArrayLike<number>;
  readonly start: number;
  /** The block id holding the previous block of the same sequence; -1 for the first block. */
  readonly parentBlockId: number;
  /** Cache salt; compared for first blocks only (later blocks inherit it through the parent). */
  readonly extraKey: string | null;
}

export class BlockPool {
  readonly numBlocks: number;
  readonly blockSize: number;
  private readonly refCounts: Int32Array;
  private readonly freeQueue: FreeBlockQueue;
  private readonly hashes: Array<BlockHash | null>;
  private readonly cachedTokenIds: Array<Int32Array | null>;
  private readonly extraKeys: Array<string | null>;
  /** Generation of each cached block (0 = not cached), and of its parent (0 = first block). */
  private readonly generations: Float64Array;
  private readonly parentGenerations: Float64Array;
  private readonly hashToBlockIds = new Map<BlockHash, number[]>();
  private nextGeneration = 1;
  private numCached = 0;

  constructor(numBlocks: number, blockSize: number) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw invalidArgument('numBlocks', 'an integer >= 1', numBlocks);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw invalidArgument('blockSize', 'an integer >= 1', blockSize);
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.refCounts = new Int32Array(numBlocks);
    this.freeQueue = new FreeBlockQueue(numBlocks);
    this.hashes = new Array<BlockHash | null>(numBlocks).fill(null);
    this.cachedTokenIds = new Array<Int32Array | null>(numBlocks).fill(null);
    this.extraKeys = new Array<string | null>(numBlocks).fill(null);
    this.generations = new Float64Array(numBlocks);
    this.parentGenerations = new Float64Array(numBlocks);
  }

  /** Blocks with ref count 0, cached eviction candidates included. */
  get numFreeBlocks(): number {
    return this.freeQueue.length;
  }

  get numUsedBlocks(): number {
    return this.numBlocks - this.freeQueue.length;
  }

  /** Blocks that currently carry a prefix-cache entry (in use or free). */
  get numCachedBlocks(): number {
    return this.numCached;
  }

  refCount(blockId: number): number {
    this.checkId(blockId);
    return this.refCounts[blockId] as number;
  }

  isFree(blockId: number): boolean {
    this.checkId(blockId);
    return this.freeQueue.has(blockId);
  }

  isCached(blockId: number): boolean {
    this.checkId(blockId);
    return this.hashes[blockId] !== null;
  }

  blockHash(blockId: number): BlockHash | null {
    this.checkId(blockId);
    return this.hashes[blockId] ?? null;
  }

  /** Free block ids, front (evicted first) to back. O(n). */
  freeBlockIds(): number[] {
    return this.freeQueue.toArray();
  }

  /**
   * Takes `numBlocks` blocks from the front of the free queue, evicting any cached contents,
   * each with ref count 1. Throws ERR_ENGINE_KV_CAPACITY if fewer are free (callers check first).
   */
  allocate(numBlocks: number): number[] {
    if (numBlocks > this.freeQueue.length) {
      throw new KvserveError(
        'ERR_ENGINE_KV_CAPACITY',
        `cannot allocate ${numBlocks} KV blocks: ${this.freeQueue.length} of ${this.numBlocks} are free`,
      );
    }
    const blockIds: number[] = [];
    for (let i = 0; i < numBlocks; i++) {
      const blockId = this.freeQueue.popFront();
      if (this.hashes[blockId] !== null) this.evict(blockId);
      this.refCounts[blockId] = 1;
      blockIds.push(blockId);
    }
    return blockIds;
  }

  /**
   * Takes one more reference on each block: a prefix-cache hit or a fork. A block at ref count 0
   * (a cached eviction candidate) leaves the free queue.
   */
  touch(blockIds: readonly number[]): void {
    for (const blockId of blockIds) {
      this.checkId(blockId);
      if (this.refCounts[blockId] === 0) {
        if (this.hashes[blockId] === null) {
          throw new Error(`block ${blockId} is free and not cached: there is nothing to touch`);
        }
        this.freeQueue.remove(blockId);
      }
      this.refCounts[blockId] = (this.refCounts[blockId] as number) + 1;
    }
  }

  /**
   * Drops one reference on each block, in the given order; a block reaching 0 goes to the back of
   * the free queue (keeping its cache entry). Pass blocks in eviction order: first evicted first.
   */
  free(blockIds: readonly number[]): void {
    for (const blockId of blockIds) {
      this.checkId(blockId);
      const refCount = this.refCounts[blockId] as number;
      if (refCount <= 0) throw new Error(`block ${blockId} freed more often than it was taken`);
      this.refCounts[blockId] = refCount - 1;
      if (refCount === 1) this.freeQueue.pushBack(blockId);
    }
  }

  /**
   * A cached block with `hash` whose contents match `key`, or -1. Does not take a reference:
   * call touch() on the blocks you keep.
   */
  findCachedBlock(hash: BlockHash, key: BlockContentKey): number {
    const candidates = this.hashToBlockIds.get(hash);
    if (candidates === undefined) return -1;
    let parentGeneration = 0;
    if (key.parentBlockId >= 0) {
      parentGeneration = this.generations[key.parentBlockId] as number;
      if (parentGeneration === 0) return -1; // the parent is not cached: its child cannot be.
    }
    for (const blockId of candidates) {
      if (this.parentGenerations[blockId] !== parentGeneration) continue;
      if (key.parentBlockId < 0 && this.extraKeys[blockId] !== key.extraKey) continue;
      if (!this.sameTokens(blockId, key.tokenIds, key.start)) continue;
      return blockId;
    }
    return -1;
  }

  /**
   * Caches a full, computed, in-use block under `hash`. `key.parentBlockId` must be cached
   * already (blocks are cached in sequence order). A block already cached is left as it is.
   */
  cacheBlock(blockId: number, hash: BlockHash, key: BlockContentKey): void {
    this.checkId(blockId);
    if (this.hashes[blockId] !== null) return;
    if ((this.refCounts[blockId] as number) < 1) throw new Error(`block ${blockId} is cached while free`);
    if (key.start + this.blockSize > key.tokenIds.length) {
      throw new Error(`block ${blockId} is not full: tokens [${key.start}, ${key.start + this.blockSize}) of ${key.tokenIds.length}`);
    }
    let parentGeneration = 0;
    if (key.parentBlockId >= 0) {
      parentGeneration = this.generations[key.parentBlockId] as number;
      if (parentGeneration === 0) throw new Error(`block ${blockId} is cached before its parent ${key.parentBlockId}`);
    }
    const tokens = new Int32Array(this.blockSize);
    for (let i = 0; i < this.blockSize; i++) tokens[i] = key.tokenIds[key.start + i] as number;
    this.hashes[blockId] = hash;
    this.cachedTokenIds[blockId] = tokens;
    this.extraKeys[blockId] = key.parentBlockId < 0 ? key.extraKey : null;
    this.generations[blockId] = this.nextGeneration++;
    this.parentGenerations[blockId] = parentGeneration;
    const candidates = this.hashToBlockIds.get(hash);
    if (candidates === undefined) this.hashToBlockIds.set(hash, [blockId]);
    else candidates.push(blockId);
    this.numCached++;
  }

  /** Drops every cache entry of a free block (in-use blocks keep theirs). Returns how many. */
  evictAllFree(): number {
    let numEvicted = 0;
    for (const blockId of this.freeQueue.toArray()) {
      if (this.hashes[blockId] !== null) {
        this.evict(blockId);
        numEvicted++;
      }
    }
    return numEvicted;
  }

  private evict(blockId: number): void {
    const hash = this.hashes[blockId] as BlockHash;
    const candidates = this.hashToBlockIds.get(hash);
    if (candidates !== undefined) {
      const index = candidates.indexOf(blockId);
      if (index >= 0) candidates.splice(index, 1);
      if (candidates.length === 0) this.hashToBlockIds.delete(hash);
    }
    this.hashes[blockId] = null;
    this.cachedTokenIds[blockId] = null;
    this.extraKeys[blockId] = null;
    this.generations[blockId] = 0;
    this.parentGenerations[blockId] = 0;
    this.numCached--;
  }

  private sameTokens(blockId: number, tokenIds: ArrayLike<number>, start: number): boolean {
    const cached = this.cachedTokenIds[blockId];
    if (!cached || start + this.blockSize > tokenIds.length) return false;
    for (let i = 0; i < this.blockSize; i++) {
      if (cached[i] !== tokenIds[start + i]) return false;
    }
    return true;
  }

  private checkId(blockId: number): void {
    if (!Number.isInteger(blockId) || blockId < 0 || blockId >= this.numBlocks) {
      throw new Error(`block id ${blockId} is out of range [0, ${this.numBlocks})`);
    }
  }
}
