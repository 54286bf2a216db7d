// The KV cache manager: one block table per request on top of the block pool, prefix-cache
// lookups, slot allocation with copy-on-write for forked (n > 1) siblings, and usage statistics.
//
// A request's block table maps its token positions to KV slots:
//   slot(p) = blockIds[floor(p / blockSize)] * blockSize + p % blockSize
// Tables only grow, except that a copy-on-write replaces one entry (see allocateSlots).
//
// Protocol, per request (the scheduler drives it):
//   admission   computed = getComputedBlocks(r)         longest cached prefix, never all tokens
//               allocateSlots(r, numNew, computed)      takes the hits, adds blocks for numNew
//   each step   allocateSlots(r, numNew)                grows the table for the step's tokens
//   after step  (r.numComputedTokens advanced)  cacheFullBlocks(r)
//   end         free(r)                                 also on preemption and abort
import { invalidArgument } from '../errors.js';
import { extendBlockHashes, hashBlockTokens, type BlockHash, type BlockHasher } from './block-hash.js';
import { BlockPool } from './block-pool.js';

/** What the manager reads from a request. `blockHashes` is a cache the manager extends. */
export interface KvRequest {
  readonly requestId: string;
  /** Prompt then generated tokens: every token whose id is known. */
  readonly allTokenIds: readonly number[];
  /** Tokens whose KV is in the cache (before the step being allocated). */
  readonly numComputedTokens: number;
  readonly cacheSalt: string | null;
  /** Hashes of the request's full blocks, filled lazily; kept across preemption. */
  readonly blockHashes: BlockHash[];
}

/** A prefix-cache hit: cached blocks for the first `numComputedTokens` tokens. */
export interface ComputedBlocks {
  readonly blockIds: readonly number[];
  readonly numComputedTokens: number;
}

export interface KvCacheManagerOptions {
  readonly numBlocks: number;
  readonly blockSize: number;
  /** Default true. */
  readonly enablePrefixCaching?: boolean;
  /** Block hash function; tests inject a colliding one. Default hashBlockTokens. */
  readonly hashBlock?: BlockHasher;
}

export interface KvCacheUsage {
  readonly numUsedBlocks: number;
  readonly numTotalBlocks: number;
  /** numUsedBlocks / numTotalBlocks. Cached blocks nobody holds count as free. */
  readonly usage: number;
}

/** Counted once per admission (allocateSlots with a ComputedBlocks argument). */
export interface PrefixCacheStats {
  readonly numQueriedRequests: number;
  readonly numHitRequests: number;
  /** Tokens looked up (the request's numTokens at admission). */
  readonly numQueriedTokens: number;
  /** Tokens whose KV came from the cache. */
  readonly numHitTokens: number;
}

/** The KV slot of token `position` in a block table. */
export function slotForPosition(blockIds: readonly number[], blockSize: number, position: number): number {
  const blockId = blockIds[Math.floor(position / blockSize)];
  if (blockId === undefined) throw new Error(`position ${position} is past the block table (${blockIds.length} blocks)`);
  return blockId * blockSize + (position % blockSize);
}

const NO_HIT: ComputedBlocks = Object.freeze({ blockIds: Object.freeze([]) as readonly number[], numComputedTokens: 0 });

export class KvCacheManager {
  readonly pool: BlockPool;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly enablePrefixCaching: boolean;
  private readonly hashBlock: BlockHasher;
  private readonly blockTables = new Map<string, number[]>();
  /** How many leading blocks of each table are in the prefix cache. */
  private readonly numCachedBlocksByRequest = new Map<string, number>();
  /** Copy-on-write copies not yet handed to the runner, per request that owns the destination. */
  private readonly pendingCopies = new Map<string, Array<[number, number]>>();
  private stats = { numQueriedRequests: 0, numHitRequests: 0, numQueriedTokens: 0, numHitTokens: 0 };

  constructor(options: KvCacheManagerOptions) {
    this.pool = new BlockPool(options.numBlocks, options.blockSize);
    this.blockSize = options.blockSize;
    this.numBlocks = options.numBlocks;
    this.enablePrefixCaching = options.enablePrefixCaching ?? true;
    this.hashBlock = options.hashBlock ?? hashBlockTokens;
  }

  /** Blocks needed to hold `numTokens` tokens. */
  numBlocksForTokens(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  /**
   * The longest cached prefix of the request's tokens, in whole blocks. It never covers every
   * token: the last token must be computed to produce logits, so at most numTokens - 1 tokens hit
   * (a prompt of exactly k full blocks hits at most k - 1). Takes no references.
   */
  getComputedBlocks(request: KvRequest): ComputedBlocks {
    if (!this.enablePrefixCaching) return NO_HIT;
    const tokenIds = request.allTokenIds;
    const maxHitBlocks = Math.floor((tokenIds.length - 1) / this.blockSize);
    if (maxHitBlocks <= 0) return NO_HIT;
    const hashes = extendBlockHashes(request.blockHashes, tokenIds, this.blockSize, request.cacheSalt, this.hashBlock);
    const blockIds: number[] = [];
    let parentBlockId = -1;
    for (let i = 0; i < maxHitBlocks; i++) {
      const blockId = this.pool.findCachedBlock(hashes[i] as BlockHash, {
        tokenIds,
        start: i * this.blockSize,
        parentBlockId,
        extraKey: request.cacheSalt,
      });
      if (blockId < 0) break;
      blockIds.push(blockId);
      parentBlockId = blockId;
    }
    if (blockIds.length === 0) return NO_HIT;
    return { blockIds, numComputedTokens: blockIds.length * this.blockSize };
  }

  /**
   * Makes room for `numNewTokens` more tokens after the request's computed ones (after the
   * prefix hit `newComputed`, at admission). Returns the whole block table, or null when there
   * are not enough free blocks: cached blocks nobody holds count as free, except the hits being
   * taken here. On null nothing changed.
   *
   * Copy-on-write: a block in the write range that is shared (ref count > 1, a fork sibling's)
   * is replaced by a fresh block; if it holds computed tokens a copy (src -> dst) is queued for
   * the runner (takeBlockCopies), to run natively before the step's KV writes.
   *
   * `numUnknownTokens`: how many of the new tokens are not known yet (a step built ahead computes
   * the token the step in flight samples); without it every slot must hold a known token.
   */
  allocateSlots(request: KvRequest, numNewTokens: number, newComputed?: ComputedBlocks, numUnknownTokens = 0): readonly number[] | null {
    if (!Number.isInteger(numNewTokens) || numNewTokens < 0) {
      throw invalidArgument('numNewTokens', 'an integer >= 0', numNewTokens);
    }
    const requestId = request.requestId;
    const hits = newComputed?.blockIds ?? [];
    const numHitTokens = newComputed?.numComputedTokens ?? 0;
    let table = this.blockTables.get(requestId);
    if (hits.length > 0 && ((table !== undefined && table.length > 0) || request.numComputedTokens !== 0)) {
      throw new Error(`request ${requestId}: prefix hits apply to a request without computed tokens`);
    }
    const numComputed = request.numComputedTokens + numHitTokens;
    const numTotal = numComputed + numNewTokens;
    if (numTotal > request.allTokenIds.length + numUnknownTokens) {
      throw new Error(`request ${requestId}: ${numTotal} tokens scheduled, only ${request.allTokenIds.length} known`);
    }
    const numRequired = this.numBlocksForTokens(numTotal);
    const numExisting = (table?.length ?? 0) + hits.length;
    const numNewBlocks = Math.max(0, numRequired - numExisting);

    const copyOnWrite: number[] = [];
    if (table !== undefined && numNewTokens > 0) {
      const end = Math.min(table.length, numRequired);
      for (let index = Math.floor(numComputed / this.blockSize); index < end; index++) {
        if (this.pool.refCount(table[index] as number) > 1) copyOnWrite.push(index);
      }
    }
    let numEvictableHits = 0;
    for (const blockId of hits) if (this.pool.refCount(blockId) === 0) numEvictableHits++;
    if (numNewBlocks + copyOnWrite.length + numEvictableHits > this.pool.numFreeBlocks) return null;

    if (table === undefined) {
      table = [];
      this.blockTables.set(requestId, table);
    }
    if (newComputed !== undefined) {
      this.pool.touch(hits);
      for (const blockId of hits) table.push(blockId);
      this.numCachedBlocksByRequest.set(requestId, hits.length);
      this.stats.numQueriedRequests++;
      this.stats.numQueriedTokens += request.allTokenIds.length;
      this.stats.numHitTokens += numHitTokens;
      if (numHitTokens > 0) this.stats.numHitRequests++;
    }
    for (const index of copyOnWrite) {
      const src = table[index] as number;
      const dst = this.pool.allocate(1)[0] as number;
      if (index * this.blockSize < numComputed) {
        let copies = this.pendingCopies.get(requestId);
        if (copies === undefined) this.pendingCopies.set(requestId, (copies = []));
        copies.push([src, dst]);
      }
      this.pool.free([src]);
      table[index] = dst;
    }
    if (numNewBlocks > 0) for (const blockId of this.pool.allocate(numNewBlocks)) table.push(blockId);
    return table;
  }

  /**
   * Adds the request's full, computed blocks (up to numComputedTokens) to the prefix cache.
   * Call after each step has advanced numComputedTokens.
   */
  cacheFullBlocks(request: KvRequest): void {
    if (!this.enablePrefixCaching) return;
    const requestId = request.requestId;
    const table = this.blockTables.get(requestId);
    if (table === undefined) return;
    const numFull = Math.min(Math.floor(request.numComputedTokens / this.blockSize), table.length);
    const numCached = this.numCachedBlocksByRequest.get(requestId) ?? 0;
    if (numFull <= numCached) return;
    const tokenIds = request.allTokenIds;
    const hashes = extendBlockHashes(request.blockHashes, tokenIds, this.blockSize, request.cacheSalt, this.hashBlock);
    for (let i = numCached; i < numFull; i++) {
      this.pool.cacheBlock(table[i] as number, hashes[i] as BlockHash, {
        tokenIds,
        start: i * this.blockSize,
        parentBlockId: i === 0 ? -1 : (table[i - 1] as number),
        extraKey: request.cacheSalt,
      });
    }
    this.numCachedBlocksByRequest.set(requestId, numFull);
  }

  /**
   * Releases the request's blocks, tail first, so the tail of the sequence is evicted before its
   * head. Cached blocks stay cached until evicted. Unknown or already-freed requests are a no-op.
   */
  free(request: Pick<KvRequest, 'requestId'>): void {
    const requestId = request.requestId;
    const table = this.blockTables.get(requestId);
    this.blockTables.delete(requestId);
    this.numCachedBlocksByRequest.delete(requestId);
    this.pendingCopies.delete(requestId);
    if (table !== undefined && table.length > 0) this.pool.free(table.slice().reverse());
  }

  /**
   * The child shares every block of the parent (one more reference each); the first
   * parent.numComputedTokens tokens of both must be equal, and so must their salts. Writes into
   * a shared block go through copy-on-write in allocateSlots. The caller sets the child's
   * numComputedTokens to the parent's.
   */
  fork(parent: KvRequest, child: KvRequest): void {
    if (this.blockTables.has(child.requestId)) {
      throw new Error(`fork: request ${child.requestId} already has blocks`);
    }
    if (child.cacheSalt !== parent.cacheSalt) {
      throw new Error(`fork: ${child.requestId} and ${parent.requestId} have different cache salts`);
    }
    const numShared = parent.numComputedTokens;
    if (child.allTokenIds.length < numShared) {
      throw new Error(`fork: ${child.requestId} has fewer tokens than ${parent.requestId} has computed`);
    }
    for (let i = 0; i < numShared; i++) {
      if (child.allTokenIds[i] !== parent.allTokenIds[i]) {
        throw new Error(`fork: ${child.requestId} differs from ${parent.requestId} at token ${i}`);
      }
    }
    const table = this.blockTables.get(parent.requestId) ?? [];
    this.pool.touch(table);
    this.blockTables.set(child.requestId, table.slice());
    this.numCachedBlocksByRequest.set(child.requestId, this.numCachedBlocksByRequest.get(parent.requestId) ?? 0);
    if (child.blockHashes.length === 0) {
      const numShareable = Math.min(parent.blockHashes.length, Math.floor(numShared / this.blockSize));
      for (let i = 0; i < numShareable; i++) child.blockHashes.push(parent.blockHashes[i] as BlockHash);
    }
  }

  /**
   * The request's block table (empty when it holds none). A live view: the next allocateSlots
   * may append to it or replace an entry (copy-on-write); copy it to keep it.
   */
  getBlockIds(requestId: string): readonly number[] {
    return this.blockTables.get(requestId) ?? [];
  }

  /** Request ids that hold a block table. */
  requestIds(): IterableIterator<string> {
    return this.blockTables.keys();
  }

  /** Copy-on-write copies queued since the last call, [srcBlockId, dstBlockId]; clears them. */
  takeBlockCopies(): Array<[number, number]> {
    const copies: Array<[number, number]> = [];
    for (const list of this.pendingCopies.values()) for (const copy of list) copies.push(copy);
    this.pendingCopies.clear();
    return copies;
  }

  usage(): KvCacheUsage {
    const numUsedBlocks = this.pool.numUsedBlocks;
    return { numUsedBlocks, numTotalBlocks: this.numBlocks, usage: numUsedBlocks / this.numBlocks };
  }

  prefixCacheStats(): PrefixCacheStats {
    return { ...this.stats };
  }

  /** Drops the cache entries of every block nobody holds (e.g. after a weight reload). */
  resetPrefixCache(): number {
    return this.pool.evictAllFree();
  }
}
