// Chained block hashes for the prefix cache.
//
// A full block's hash covers everything that determines its KV contents: the hash of the block
// before it (so equal hashes mean equal prefixes, not just equal blocks), the block's token ids,
// and extra keys. The only extra key today is the per-request cache salt, and it enters the FIRST
// block's hash only: every later hash chains through the first one, so two tenants with different
// salts never share any block, while requests with the same salt share as usual.
//
// The default hasher runs two independent 32-bit hash functions (a murmur3-style lane and an
// xxhash32-style lane) over the Int32 token ids: 64 bits, no allocation besides the result string,
// fast enough to run for every block that fills up. A hash is never trusted alone: the block pool
// stores each cached block's token ids, salt and parent and verifies them on lookup, so a
// collision costs a cache miss, never wrong sharing.

/** 64-bit block hash as 16 lowercase hex characters (a Map key). */
export type BlockHash = string;

/**
 * Hash of one full block: `tokenIds[start, end)`, chained on `parentHash` (null for the first
 * block), with `extraKey` (the cache salt; callers pass it for the first block only).
 */
export type BlockHasher = (
  parentHash: BlockHash | null,
  tokenIds: ArrayLike<number>,
  start: number,
  end: number,
  extraKey: string | null,
) => BlockHash;

const MURMUR_C1 = 0xcc9e2d51;
const MURMUR_C2 = 0x1b873593;
const XX_PRIME1 = 0x9e3779b1;
const XX_PRIME2 = 0x85ebca77;
const XX_PRIME3 = 0xc2b2ae3d;
const SEED_A = 0x2f0b3c5d;
const SEED_B = 0x6a09e667;
/** Marks where the token ids end and the extra key begins, so the two cannot run together. */
const EXTRA_KEY_MARKER = 0x7fffffff;

function murmurStep(h: number, word: number): number {
  let k = Math.imul(word, MURMUR_C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, MURMUR_C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function murmurFinish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function xxStep(h: number, word: number): number {
  h = (h + Math.imul(word, XX_PRIME2)) | 0;
  h = (h << 13) | (h >>> 19);
  return Math.imul(h, XX_PRIME1);
}

function xxFinish(h: number, length: number): number {
  h = (h + length) | 0;
  h ^= h >>> 15;
  h = Math.imul(h, XX_PRIME2);
  h ^= h >>> 13;
  h = Math.imul(h, XX_PRIME3);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** The default {@link BlockHasher}: two independent 32-bit lanes, 16 hex characters. */
export function hashBlockTokens(
  parentHash: BlockHash | null,
  tokenIds: ArrayLike<number>,
  start: number,
  end: number,
  extraKey: string | null,
): BlockHash {
  let a = SEED_A;
  let b = SEED_B;
  let length = 0;
  if (parentHash !== null) {
    const parentHigh = Number.parseInt(parentHash.slice(0, 8), 16) | 0;
    const parentLow = Number.parseInt(parentHash.slice(8, 16), 16) | 0;
    a = murmurStep(murmurStep(a, parentHigh), parentLow);
    b = xxStep(xxStep(b, parentLow), parentHigh);
    length += 2;
  }
  for (let i = start; i < end; i++) {
    const token = (tokenIds[i] as number) | 0;
    a = murmurStep(a, token);
    b = xxStep(b, token);
  }
  length += end - start;
  if (extraKey !== null) {
    a = murmurStep(a, EXTRA_KEY_MARKER);
    b = xxStep(b, EXTRA_KEY_MARKER);
    for (let i = 0; i < extraKey.length; i++) {
      const unit = extraKey.charCodeAt(i);
      a = murmurStep(a, unit);
      b = xxStep(b, unit ^ 0x5bd1e995);
    }
    length += extraKey.length + 1;
  }
  return hex8(murmurFinish(a, length)) + hex8(xxFinish(b, length));
}

/**
 * Extends `hashes` (the hashes already known for this token sequence, a prefix of the result)
 * to cover every full block of `tokenIds`. The salt enters the first block's hash only.
 */
export function extendBlockHashes(
  hashes: BlockHash[],
  tokenIds: ArrayLike<number>,
  blockSize: number,
  cacheSalt: string | null,
  hasher: BlockHasher = hashBlockTokens,
): BlockHash[] {
  const numFullBlocks = Math.floor(tokenIds.length / blockSize);
  for (let i = hashes.length; i < numFullBlocks; i++) {
    const parent = i === 0 ? null : (hashes[i - 1] as BlockHash);
    hashes.push(hasher(parent, tokenIds, i * blockSize, (i + 1) * blockSize, i === 0 ? cacheSalt : null));
  }
  return hashes;
}
