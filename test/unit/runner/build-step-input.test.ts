import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStepInput } from '../../../lib/runner/build-step-input.js';

test('packs a decode row and a prefill chunk into one step', () => {
  const input = buildStepInput(
    [
      // decode: 5 tokens cached, computing the 6th (position 5) in block 7 (block size 4: blocks [3, 7])
      { tokenIds: [1, 2, 3, 4, 5, 6], startPosition: 5, numScheduledTokens: 1, blockIds: [3, 7], sampleThisStep: true },
      // prefill chunk: positions 0..2 of a 10-token prompt, not the end: no sampling
      { tokenIds: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], startPosition: 0, numScheduledTokens: 3, blockIds: [2], sampleThisStep: false },
    ],
    4,
  );
  assert.deepEqual([...input.tokenIds], [6, 9, 8, 7]);
  assert.deepEqual([...input.positions], [5, 0, 1, 2]);
  assert.deepEqual([...input.slotMapping], [7 * 4 + 1, 8, 9, 10]);
  assert.deepEqual([...input.queryStartLoc], [0, 1, 4]);
  assert.deepEqual([...input.seqLens], [6, 3]);
  assert.equal(input.maxBlocksPerSeq, 2);
  assert.deepEqual([...input.blockTables], [3, 7, 2, 0]);
  assert.deepEqual([...input.logitsIndices], [0]);
  assert.equal(input.copySrc, undefined);
});

test('carries block copies and samples the last token of a finished prefill', () => {
  const input = buildStepInput(
    [{ tokenIds: [1, 2, 3], startPosition: 0, numScheduledTokens: 3, blockIds: [5], sampleThisStep: true }],
    16,
    [[5, 6]],
  );
  assert.deepEqual([...input.logitsIndices], [2]);
  assert.deepEqual([...(input.copySrc ?? [])], [5]);
  assert.deepEqual([...(input.copyDst ?? [])], [6]);
});

test('a missing block is an error, not a silent slot 0', () => {
  assert.throws(
    () => buildStepInput([{ tokenIds: [1, 2, 3, 4, 5], startPosition: 0, numScheduledTokens: 5, blockIds: [1], sampleThisStep: true }], 4),
    /position 4 has no token or block/,
  );
});
