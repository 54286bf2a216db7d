import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extendBlockHashes, hashBlockTokens, type BlockHasher } from '../../../lib/kv/block-hash.js';
import { randomInt, seededRandom } from '../../helpers/fake-model.js';

test('block hash is 16 hex chars, deterministic, and covers parent, tokens, range and salt', () => {
  const tokens = [1, 2, 3, 4, 5, 6, 7, 8];
  const h = hashBlockTokens(null, tokens, 0, 4, null);
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(hashBlockTokens(null, [1, 2, 3, 4], 0, 4, null), h, 'same tokens, same hash');
  assert.notEqual(hashBlockTokens(null, tokens, 4, 8, null), h, 'other tokens');
  assert.notEqual(hashBlockTokens(null, [2, 1, 3, 4], 0, 4, null), h, 'order matters');
  assert.notEqual(hashBlockTokens(h, tokens, 0, 4, null), h, 'parent matters');
  assert.notEqual(hashBlockTokens(null, tokens, 0, 4, 'tenant-a'), h, 'salt matters');
  assert.notEqual(hashBlockTokens(null, tokens, 0, 4, 'tenant-a'), hashBlockTokens(null, tokens, 0, 4, 'tenant-b'));
  assert.notEqual(hashBlockTokens(null, tokens, 0, 4, ''), h, 'an empty salt is not the absence of a salt');
  assert.notEqual(hashBlockTokens(null, [0], 0, 1, null), hashBlockTokens(null, [0, 0], 0, 2, null), 'length matters');
});

test('no collisions among 50k random blocks; each 32-bit half is distinct too (independent lanes)', () => {
  const random = seededRandom(7);
  const seen = new Set<string>();
  const highs = new Set<string>();
  const lows = new Set<string>();
  let parent: string | null = null;
  for (let i = 0; i < 50_000; i++) {
    const block = Array.from({ length: 16 }, () => randomInt(random, 0, 32_000));
    const h = hashBlockTokens(i % 3 === 0 ? null : parent, block, 0, 16, null);
    seen.add(h);
    highs.add(h.slice(0, 8));
    lows.add(h.slice(8));
    parent = h;
  }
  assert.equal(seen.size, 50_000);
  // 50k values in 2^32: a handful of birthday collisions per half at most.
  assert.ok(highs.size > 49_990 && lows.size > 49_990, `${highs.size} ${lows.size}`);
});

test('extendBlockHashes chains full blocks only and passes the salt to the first block only', () => {
  const calls: Array<[string | null, number, number, string | null]> = [];
  const spy: BlockHasher = (parent, tokens, start, end, extraKey) => {
    calls.push([parent, start, end, extraKey]);
    return hashBlockTokens(parent, tokens, start, end, extraKey);
  };
  const tokens = Array.from({ length: 11 }, (_, i) => i + 100);
  const hashes = extendBlockHashes([], tokens, 4, 'salt', spy);
  assert.equal(hashes.length, 2, 'the partial third block has no hash');
  assert.deepEqual(calls.map(([p, s, e, x]) => [p === null ? null : 'parent', s, e, x]), [
    [null, 0, 4, 'salt'],
    ['parent', 4, 8, null],
  ]);
  assert.equal(calls[1]?.[0], hashes[0]);
  // Extending an existing list hashes only the new blocks.
  tokens.push(111);
  calls.length = 0;
  extendBlockHashes(hashes, tokens, 4, 'salt', spy);
  assert.equal(hashes.length, 3);
  assert.equal(calls.length, 1);
  // A different salt changes every hash of the chain, through the first.
  const other = extendBlockHashes([], tokens, 4, 'other');
  for (let i = 0; i < 3; i++) assert.notEqual(other[i], hashes[i]);
});
