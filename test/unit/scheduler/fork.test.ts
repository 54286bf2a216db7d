import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Request } from '../../../lib/scheduler/request.js';
import type { SchedulerOutput } from '../../../lib/scheduler/scheduler-output.js';
import { fakeToken, runToCompletion } from '../../helpers/fake-model.js';
import { checkSchedulerInvariants } from '../../helpers/kv-invariants.js';
import { range, setup } from './setup.js';

const rows = (output: SchedulerOutput) =>
  output.scheduled.map((e) => [e.request.requestId, e.startPosition, e.numScheduledTokens, e.sampleThisStep]);

function addSiblings(scheduler: ReturnType<typeof setup>['scheduler'], prompt: number[], n: number, maxTokens = 5): Request[] {
  const siblings = Array.from({ length: n }, (_, i) => new Request({ requestId: i === 0 ? 'p' : `c${i}`, promptTokenIds: prompt, maxTokens }));
  scheduler.addRequest(siblings[0] as Request);
  for (const child of siblings.slice(1)) scheduler.addRequest(child, { forkFrom: 'p' });
  return siblings;
}

test('n = 3: the parent computes the prompt once, children fork at the last token and share its blocks', () => {
  const { scheduler, kv, model } = setup({ blockSize: 4 });
  const siblings = addSiblings(scheduler, range(100, 10), 3);
  assert.equal(scheduler.stats().numWaiting, 3);
  const first = scheduler.schedule();
  assert.deepEqual(rows(first), [['p', 0, 9, false]], 'the parent stops before its last prompt token');
  scheduler.updateFromOutput(first, model.step(first));
  // Forked: all three hold the parent's 3 blocks (2 full, 1 partial holding position 8).
  const parentBlocks = [...kv.getBlockIds('p')];
  assert.equal(parentBlocks.length, 3);
  for (const id of ['c1', 'c2']) assert.deepEqual(kv.getBlockIds(id), parentBlocks);
  for (const blockId of parentBlocks) assert.equal(kv.pool.refCount(blockId), 3);
  assert.deepEqual(scheduler.runningRequests.map((r) => r.requestId), ['p', 'c1', 'c2']);
  for (const child of siblings.slice(1)) {
    assert.equal(child.numComputedTokens, 9);
    assert.equal(child.numCachedTokens, 9);
  }
  checkSchedulerInvariants(scheduler);

  const second = scheduler.schedule();
  assert.deepEqual(rows(second), [['p', 9, 1, true], ['c1', 9, 1, true], ['c2', 9, 1, true]]);
  // Copy-on-write of the shared partial block for the first two writers; the last keeps it.
  assert.equal(second.blockCopies.length, 2);
  for (const [src] of second.blockCopies) assert.equal(src, parentBlocks[2]);
  assert.deepEqual(second.scheduled[2]?.blockIds, parentBlocks);
  assert.equal(kv.usage().numUsedBlocks, 2 + 3, 'two shared full blocks and one partial block each');
  scheduler.updateFromOutput(second, model.step(second)); // the fake model checks every read-back
  runToCompletion(scheduler, model, { onStep: () => checkSchedulerInvariants(scheduler) });
  for (const r of siblings) {
    assert.deepEqual(r.outputTokenIds, range(10, 5).map((p) => fakeToken(r.requestId, p, 1000)));
  }
  assert.notDeepEqual(siblings[0]?.outputTokenIds, siblings[1]?.outputTokenIds, 'siblings sample independently');
  assert.equal(kv.usage().numUsedBlocks, 0);
});

test('fork at a block boundary copies nothing; a one-token prompt forks at admission', () => {
  const aligned = setup({ blockSize: 4 });
  addSiblings(aligned.scheduler, range(100, 9), 2);
  let output = aligned.scheduler.schedule();
  aligned.scheduler.updateFromOutput(output, aligned.model.step(output));
  output = aligned.scheduler.schedule();
  assert.deepEqual(rows(output), [['p', 8, 1, true], ['c1', 8, 1, true]]);
  assert.deepEqual(output.blockCopies, []);

  const single = setup({ blockSize: 4 });
  const siblings = addSiblings(single.scheduler, [42], 3, 2);
  output = single.scheduler.schedule();
  assert.deepEqual(rows(output), [['p', 0, 1, true], ['c1', 0, 1, true], ['c2', 0, 1, true]]);
  runToCompletion(single.scheduler, single.model, { onStep: () => checkSchedulerInvariants(single.scheduler) });
  for (const r of siblings) assert.deepEqual(r.outputTokenIds, [fakeToken(r.requestId, 1, 1000), fakeToken(r.requestId, 2, 1000)]);
});

test('a parent whose prompt is cached up to the last token forks on admission and all siblings run that step', () => {
  const { scheduler, model } = setup({ blockSize: 4 });
  scheduler.addRequest(new Request({ requestId: 'warm', promptTokenIds: range(100, 9), maxTokens: 1 }));
  runToCompletion(scheduler, model);
  addSiblings(scheduler, range(100, 9), 3);
  const output = scheduler.schedule();
  assert.deepEqual(rows(output), [['p', 8, 1, true], ['c1', 8, 1, true], ['c2', 8, 1, true]]);
  assert.equal(scheduler.getRequest('p')?.numCachedTokens, 8);
});

test('siblings are admitted together only when all fit under maxNumSeqs; n > maxNumSeqs is refused', () => {
  const { scheduler, model } = setup({ maxNumSeqs: 3 });
  scheduler.addRequest(new Request({ requestId: 'other', promptTokenIds: range(900, 4), maxTokens: 3 }));
  addSiblings(scheduler, range(100, 10), 3, 2);
  const first = scheduler.schedule();
  assert.deepEqual(rows(first), [['other', 0, 4, true]], 'p needs 3 seats, only 2 are left');
  runToCompletion(scheduler, model, {
    onStep: () => assert.ok(scheduler.runningRequests.length <= 3),
  });
  assert.throws(() => addSiblings(setup({ maxNumSeqs: 2 }).scheduler, range(0, 4), 3), /n: expected at most maxNumSeqs \(2\) samples per prompt, got 3/);
});

test('forkFrom is checked: unknown or already scheduled parent, other prompt, other salt', () => {
  const { scheduler } = setup();
  const child = (id: string, prompt = range(0, 4), cacheSalt: string | null = null) =>
    new Request({ requestId: id, promptTokenIds: prompt, cacheSalt });
  assert.throws(() => scheduler.addRequest(child('x'), { forkFrom: 'missing' }), /forkFrom: expected the id of a waiting request/);
  scheduler.addRequest(child('p'));
  assert.throws(() => scheduler.addRequest(child('y', range(1, 4)), { forkFrom: 'p' }), /promptTokenIds: expected the prompt of p/);
  assert.throws(() => scheduler.addRequest(child('z', range(0, 4), 'salt'), { forkFrom: 'p' }), /cacheSalt/);
  scheduler.addRequest(child('c'), { forkFrom: 'p' });
  assert.throws(() => scheduler.addRequest(child('cc'), { forkFrom: 'c' }), /not a fork itself/);
  scheduler.schedule();
  assert.throws(() => scheduler.addRequest(child('late'), { forkFrom: 'p' }), /never scheduled/);
});

test('aborting the parent before the fork turns its children into ordinary requests; aborting a child drops it', () => {
  const { scheduler, model } = setup({ blockSize: 4 });
  const siblings = addSiblings(scheduler, range(100, 10), 3, 3);
  assert.equal(scheduler.abort('c2'), true);
  const first = scheduler.schedule();
  scheduler.updateFromOutput(first, model.step(first)); // would fork now; abort before:
  assert.equal(scheduler.runningRequests.length, 2, 'p and c1');
  assert.equal(scheduler.abort('p'), true);

  // The parent's prompt in two chunks: 8 tokens (cached), then abort before the fork.
  const other = setup({ blockSize: 4, maxNumBatchedTokens: 8 });
  const orphans = addSiblings(other.scheduler, range(100, 10), 3, 3);
  const step = other.scheduler.schedule();
  assert.deepEqual(rows(step), [['p', 0, 8, false]]);
  other.scheduler.updateFromOutput(step, other.model.step(step));
  assert.equal(other.scheduler.abort('p'), true);
  assert.deepEqual(other.scheduler.waitingRequests.map((r) => r.requestId), ['c1', 'c2']);
  runToCompletion(other.scheduler, other.model, { onStep: () => checkSchedulerInvariants(other.scheduler) });
  for (const r of orphans.slice(1)) {
    assert.equal(r.status, 'finished_length');
    assert.deepEqual(r.outputTokenIds, range(10, 3).map((p) => fakeToken(r.requestId, p, 1000)));
    assert.equal(r.numCachedTokens, 8, "an orphan still reuses the parent's cached blocks");
  }
  assert.equal(siblings[2]?.status, 'finished_aborted');
  assert.equal(other.kv.usage().numUsedBlocks, 0);
});
