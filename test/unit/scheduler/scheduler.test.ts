import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvserveError } from '../../../lib/errors.js';
import { KvCacheManager } from '../../../lib/kv/kv-cache-manager.js';
import { Request } from '../../../lib/scheduler/request.js';
import { Scheduler } from '../../../lib/scheduler/scheduler.js';
import type { SchedulerOutput } from '../../../lib/scheduler/scheduler-output.js';
import { fakeToken, runToCompletion } from '../../helpers/fake-model.js';
import { checkSchedulerInvariants } from '../../helpers/kv-invariants.js';
import { makeRequest, setup } from './setup.js';

const rows = (output: SchedulerOutput) =>
  output.scheduled.map((e) => [e.request.requestId, e.startPosition, e.numScheduledTokens, e.sampleThisStep]);

const isCode = (code: string) => (e: unknown) => e instanceof KvserveError && e.code === code;

test('budget arithmetic: running first, then admission; sum <= maxNumBatchedTokens, rows <= maxNumSeqs', () => {
  const { scheduler, model } = setup({ maxNumBatchedTokens: 64, maxNumSeqs: 3 });
  for (let i = 0; i < 5; i++) scheduler.addRequest(makeRequest(`r${i}`, 30, { maxTokens: 4 }));
  const first = scheduler.schedule();
  assert.deepEqual(rows(first), [['r0', 0, 30, true], ['r1', 0, 30, true], ['r2', 0, 4, false]]);
  assert.equal(first.numBatchedTokens, 64);
  scheduler.updateFromOutput(first, model.step(first));
  const second = scheduler.schedule();
  // Two decode rows mixed with the rest of r2's prompt; r3 cannot start (3 running = maxNumSeqs).
  assert.deepEqual(rows(second), [['r0', 30, 1, true], ['r1', 30, 1, true], ['r2', 4, 26, true]]);
  assert.equal(second.numBatchedTokens, 28);
  scheduler.updateFromOutput(second, model.step(second));
  runToCompletion(scheduler, model, {
    onStep: (output) => {
      const sum = output.scheduled.reduce((s, e) => s + e.numScheduledTokens, 0);
      assert.equal(sum, output.numBatchedTokens);
      assert.ok(sum <= 64 && output.scheduled.length <= 3);
      checkSchedulerInvariants(scheduler);
    },
  });
  assert.equal(scheduler.stats().numUsedBlocks, 0);
});

test('chunked prefill: a long prompt is split across steps and samples only at its end', () => {
  const { scheduler, model } = setup({ maxNumBatchedTokens: 32 });
  const request = makeRequest('long', 100, { maxTokens: 3 });
  scheduler.addRequest(request);
  const { outputs } = runToCompletion(scheduler, model);
  assert.deepEqual(outputs.map(rows), [
    [['long', 0, 32, false]],
    [['long', 32, 32, false]],
    [['long', 64, 32, false]],
    [['long', 96, 4, true]],
    [['long', 100, 1, true]],
    [['long', 101, 1, true]],
  ]);
  assert.deepEqual(request.outputTokenIds, [100, 101, 102].map((p) => fakeToken('long', p, 1000)));
  assert.equal(request.status, 'finished_length');
});

test('longPrefillTokenThreshold caps any one request per step', () => {
  const { scheduler, model } = setup({ maxNumBatchedTokens: 64, longPrefillTokenThreshold: 10 });
  scheduler.addRequest(makeRequest('a', 25, { maxTokens: 1 }));
  scheduler.addRequest(makeRequest('b', 3, { maxTokens: 1 }));
  const first = scheduler.schedule();
  assert.deepEqual(rows(first), [['a', 0, 10, false], ['b', 0, 3, true]]);
  scheduler.updateFromOutput(first, model.step(first));
  const second = scheduler.schedule();
  assert.deepEqual(rows(second), [['a', 10, 10, false]]);
});

test('decode rows and a prefill chunk share one step', () => {
  const { scheduler, model } = setup({ maxNumBatchedTokens: 16 });
  scheduler.addRequest(makeRequest('d', 8, { maxTokens: 10 }));
  const first = scheduler.schedule();
  scheduler.updateFromOutput(first, model.step(first));
  scheduler.addRequest(makeRequest('p', 40, { maxTokens: 2 }));
  const second = scheduler.schedule();
  assert.deepEqual(rows(second), [['d', 8, 1, true], ['p', 0, 15, false]]);
  scheduler.updateFromOutput(second, model.step(second));
  const third = scheduler.schedule();
  assert.deepEqual(rows(third), [['d', 9, 1, true], ['p', 15, 15, false]]);
});

test('prefix-cache hit on admission advances numComputedTokens and numCachedTokens', () => {
  const { scheduler, model } = setup({ blockSize: 4 });
  const shared = Array.from({ length: 10 }, (_, i) => 500 + i);
  const first = new Request({ requestId: 'first', promptTokenIds: shared, maxTokens: 1 });
  scheduler.addRequest(first);
  runToCompletion(scheduler, model);
  assert.equal(first.numCachedTokens, 0);
  const second = new Request({ requestId: 'second', promptTokenIds: [...shared, 7, 7], maxTokens: 1 });
  scheduler.addRequest(second);
  const output = scheduler.schedule();
  assert.deepEqual(rows(output), [['second', 8, 4, true]]);
  assert.equal(second.numCachedTokens, 8);
  scheduler.updateFromOutput(output, model.step(output));
  assert.deepEqual(scheduler.stats().prefixCacheHits, 8);
  assert.deepEqual(scheduler.stats().prefixCacheQueries, 10 + 12);
});

test('preemption when blocks run out: the newest running request goes back to the FRONT of the waiting queue', () => {
  const { scheduler, kv, model } = setup({ numBlocks: 4, blockSize: 2, maxNumSeqs: 2, maxNumBatchedTokens: 64 });
  const r0 = makeRequest('r0', 3, { maxTokens: 4 });
  const r1 = makeRequest('r1', 3, { maxTokens: 4 });
  const r2 = makeRequest('r2', 1, { maxTokens: 1 });
  for (const r of [r0, r1, r2]) scheduler.addRequest(r);
  let output = scheduler.schedule(); // r0, r1: 3 tokens each, 2 blocks each: the cache is full
  assert.deepEqual(rows(output), [['r0', 0, 3, true], ['r1', 0, 3, true]]);
  scheduler.updateFromOutput(output, model.step(output));
  output = scheduler.schedule(); // position 3 still fits in each second block
  assert.deepEqual(output.preemptedRequestIds, []);
  scheduler.updateFromOutput(output, model.step(output));
  assert.equal(kv.usage().numUsedBlocks, 4);
  output = scheduler.schedule(); // position 4 needs a third block: r1 is preempted for r0
  assert.deepEqual(output.preemptedRequestIds, ['r1']);
  assert.deepEqual(rows(output), [['r0', 4, 1, true]], 'no admission in a step that preempted');
  assert.equal(r1.status, 'preempted');
  assert.equal(r1.numComputedTokens, 0);
  assert.equal(r1.numPreemptions, 1);
  assert.deepEqual(scheduler.waitingRequests.map((r) => r.requestId), ['r1', 'r2']);
  assert.deepEqual(kv.getBlockIds('r1'), []);
  checkSchedulerInvariants(scheduler);
  scheduler.updateFromOutput(output, model.step(output));
  runToCompletion(scheduler, model, { onStep: () => checkSchedulerInvariants(scheduler) });
  for (const r of [r0, r1]) {
    assert.deepEqual(r.outputTokenIds, [3, 4, 5, 6].map((p) => fakeToken(r.requestId, p, 1000)), `${r.requestId} resumed exactly`);
  }
  assert.equal(scheduler.stats().numPreemptions, r0.numPreemptions + r1.numPreemptions + r2.numPreemptions);
});

test('a step that preempts admits nothing, even a request that would fit now', () => {
  const { scheduler, model } = setup({ policy: 'priority', numBlocks: 4, blockSize: 2, maxNumSeqs: 2, maxNumBatchedTokens: 64 });
  scheduler.addRequest(makeRequest('r0', 3, { maxTokens: 4, priority: 0 }));
  scheduler.addRequest(makeRequest('r1', 3, { maxTokens: 4, priority: 1 }));
  for (let i = 0; i < 2; i++) {
    const output = scheduler.schedule();
    assert.deepEqual(output.preemptedRequestIds, []);
    assert.deepEqual(output.scheduled.map((e) => e.request.requestId), ['r0', 'r1']);
    scheduler.updateFromOutput(output, model.step(output));
  }
  scheduler.addRequest(makeRequest('r2', 1, { maxTokens: 1, priority: 0 })); // no seat for it
  const output = scheduler.schedule(); // r0 needs a third block: r1 is preempted
  assert.deepEqual(output.preemptedRequestIds, ['r1']);
  // A seat and a block are free now, and r2 is first in line, but it waits for the next step.
  assert.deepEqual(rows(output), [['r0', 4, 1, true]]);
  assert.deepEqual(scheduler.waitingRequests.map((r) => r.requestId), ['r2', 'r1']);
  scheduler.updateFromOutput(output, model.step(output));
  assert.deepEqual(rows(scheduler.schedule()), [['r0', 5, 1, true], ['r2', 0, 1, true]]);
});

test('a request alone that cannot grow preempts itself and resumes once blocks are free', () => {
  // Two requests, room for one at full length: the second is preempted repeatedly but finishes.
  const { scheduler, model } = setup({ numBlocks: 6, blockSize: 4, maxNumBatchedTokens: 64 });
  const a = makeRequest('a', 4, { maxTokens: 16 });
  const b = makeRequest('b', 4, { maxTokens: 16 });
  scheduler.addRequest(a);
  scheduler.addRequest(b);
  runToCompletion(scheduler, model, { onStep: () => checkSchedulerInvariants(scheduler) });
  assert.ok(scheduler.stats().numPreemptions > 0);
  for (const r of [a, b]) {
    assert.equal(r.status, 'finished_length');
    assert.deepEqual(r.outputTokenIds, Array.from({ length: 16 }, (_, i) => fakeToken(r.requestId, 4 + i, 1000)));
  }
});

test('bounded waiting queue: ERR_ENGINE_QUEUE_FULL, room again once requests are admitted', () => {
  const { scheduler } = setup({ maxNumQueuedRequests: 2 });
  scheduler.addRequest(makeRequest('a', 4));
  scheduler.addRequest(makeRequest('b', 4));
  assert.throws(() => scheduler.addRequest(makeRequest('c', 4)), (e: unknown) =>
    isCode('ERR_ENGINE_QUEUE_FULL')(e) && /2 requests waiting, maxNumQueuedRequests is 2/.test((e as Error).message));
  scheduler.schedule();
  scheduler.addRequest(makeRequest('c', 4));
  assert.equal(scheduler.stats().numWaiting, 1);
});

test('over-length prompts are refused naming both numbers; prompt + 1 must fit', () => {
  const { scheduler } = setup({ maxModelLen: 16 });
  assert.throws(() => scheduler.addRequest(makeRequest('long', 20)), (e: unknown) =>
    isCode('ERR_ENGINE_PROMPT_TOO_LONG')(e) && /\b20\b/.test((e as Error).message) && /\b16\b/.test((e as Error).message));
  assert.throws(() => scheduler.addRequest(makeRequest('exact', 16)), isCode('ERR_ENGINE_PROMPT_TOO_LONG'));
  scheduler.addRequest(makeRequest('fits', 15));
  assert.equal(scheduler.stats().numWaiting, 1);
});

test('a request that could never fit in the whole KV cache is refused with ERR_ENGINE_KV_CAPACITY', () => {
  const { scheduler } = setup({ numBlocks: 4, blockSize: 4, maxModelLen: 64 });
  assert.throws(() => scheduler.addRequest(makeRequest('big', 10, { maxTokens: 10 })), (e: unknown) =>
    isCode('ERR_ENGINE_KV_CAPACITY')(e) && /20 tokens/.test((e as Error).message) && /4 blocks/.test((e as Error).message));
  assert.throws(() => scheduler.addRequest(makeRequest('default', 10)), isCode('ERR_ENGINE_KV_CAPACITY'), 'maxTokens null may run to maxModelLen');
  scheduler.addRequest(makeRequest('ok', 10, { maxTokens: 6 }));
});

test('abort frees blocks immediately, waiting or running; the aborted row of an in-flight step is skipped', () => {
  const { scheduler, kv, model } = setup();
  const a = makeRequest('a', 10, { maxTokens: 5 });
  const b = makeRequest('b', 10, { maxTokens: 5 });
  const waiting = makeRequest('w', 10, { maxTokens: 5 });
  scheduler.addRequest(a);
  scheduler.addRequest(b);
  const output = scheduler.schedule();
  scheduler.addRequest(waiting);
  const usedBefore = kv.usage().numUsedBlocks;
  assert.equal(scheduler.abort('a'), true);
  assert.equal(kv.usage().numUsedBlocks, usedBefore - 3, "a's 3 blocks are free before the next step");
  assert.equal(a.status, 'finished_aborted');
  assert.equal(scheduler.abort('w'), true);
  assert.equal(scheduler.stats().numWaiting, 0);
  assert.equal(scheduler.abort('a'), false, 'already finished');
  assert.equal(scheduler.abort('nope'), false);
  const finished = scheduler.updateFromOutput(output, model.step(output));
  assert.deepEqual(finished, []);
  assert.equal(a.numOutputTokens, 0, 'the aborted row got nothing');
  assert.equal(b.numOutputTokens, 1);
  const next = scheduler.schedule();
  assert.deepEqual(next.finishedRequestIds, ['a', 'w']);
  assert.deepEqual(rows(next), [['b', 10, 1, true]]);
  checkSchedulerInvariants(scheduler);
});

test('finishing: EOS (not before minTokens, not with ignoreEos), stop token ids, maxTokens, maxModelLen', () => {
  const eos = 2;
  const cases: Array<{ init: Partial<ConstructorParameters<typeof Request>[0]>; tokens: number[]; status: string; output: number; reason: number | null }> = [
    { init: { eosTokenIds: [eos] }, tokens: [5, eos, 6], status: 'finished_stopped', output: 2, reason: eos },
    { init: { eosTokenIds: [eos], minTokens: 3 }, tokens: [eos, eos, eos, 7], status: 'finished_stopped', output: 3, reason: eos },
    { init: { eosTokenIds: [eos], ignoreEos: true, maxTokens: 4 }, tokens: [eos, eos, eos, eos, eos], status: 'finished_length', output: 4, reason: null },
    { init: { stopTokenIds: [9], minTokens: 2 }, tokens: [9, 9, 1], status: 'finished_stopped', output: 2, reason: 9 },
    { init: { maxTokens: 3 }, tokens: [1, 1, 1, 1], status: 'finished_length', output: 3, reason: null },
    { init: {}, tokens: [1, 1, 1, 1, 1, 1, 1], status: 'finished_length', output: 12 - 8, reason: null }, // maxModelLen 12
  ];
  for (const { init, tokens, status, output: numOutput, reason } of cases) {
    const { scheduler } = setup({ maxModelLen: 12 });
    const request = makeRequest('r', 8, init);
    scheduler.addRequest(request);
    let finished: Request[] = [];
    for (const token of tokens) {
      const step = scheduler.schedule();
      finished = scheduler.updateFromOutput(step, new Map([['r', [token]]]));
      if (finished.length > 0) break;
    }
    assert.deepEqual(finished.map((r) => r.requestId), ['r'], JSON.stringify(init));
    assert.equal(request.status, status, JSON.stringify(init));
    assert.equal(request.numOutputTokens, numOutput, JSON.stringify(init));
    assert.equal(request.stopReason, reason);
    assert.equal(scheduler.stats().numUsedBlocks, 0, 'finished requests free their blocks');
  }
});

test('several sampled tokens in one row stop at the first finishing one', () => {
  const { scheduler } = setup();
  const request = makeRequest('r', 4, { stopTokenIds: [9] });
  scheduler.addRequest(request);
  const output = scheduler.schedule();
  scheduler.updateFromOutput(output, new Map([['r', [1, 9, 3]]]));
  assert.deepEqual(request.outputTokenIds, [1, 9]);
  assert.equal(request.status, 'finished_stopped');
});

test('updateFromOutput checks its input before changing anything: tokens only for sampling rows, each output once', () => {
  const { scheduler } = setup({ maxNumBatchedTokens: 8 });
  const x = makeRequest('x', 2);
  const chunked = makeRequest('chunked', 20);
  scheduler.addRequest(x);
  scheduler.addRequest(chunked);
  const output = scheduler.schedule(); // x: 2 tokens, samples; chunked: 6 tokens, does not
  assert.deepEqual(rows(output), [['x', 0, 2, true], ['chunked', 0, 6, false]]);
  assert.throws(() => scheduler.updateFromOutput(output, new Map([['x', [1]], ['chunked', [1]]])), /no tokens for a row that samples nothing/);
  assert.throws(() => scheduler.updateFromOutput(output, new Map()), /sampledTokenIds\[x\]: expected at least one sampled token id/);
  assert.throws(() => scheduler.updateFromOutput(output, new Map([['x', [-1]]])), /expected a token id/);
  assert.equal(x.numComputedTokens, 0, 'a refused output changes nothing');
  assert.equal(chunked.numComputedTokens, 0);
  scheduler.updateFromOutput(output, new Map([['x', [1]]]));
  assert.equal(chunked.numComputedTokens, 6);
  assert.throws(() => scheduler.updateFromOutput(output, new Map([['x', [1]]])), /applied twice/);
});

test('priority policy: lower priority value first in admission, the highest value is preempted', () => {
  const { scheduler, model } = setup({ policy: 'priority', maxNumSeqs: 1 });
  const order: string[] = [];
  scheduler.addRequest(makeRequest('late-low', 4, { maxTokens: 1, priority: 5 }));
  scheduler.addRequest(makeRequest('urgent', 4, { maxTokens: 1, priority: 0 }));
  scheduler.addRequest(makeRequest('later-low', 4, { maxTokens: 1, priority: 5 }));
  scheduler.addRequest(makeRequest('mid', 4, { maxTokens: 1, priority: 1 }));
  runToCompletion(scheduler, model, { onStep: (o) => order.push(...o.scheduled.map((e) => e.request.requestId)) });
  assert.deepEqual(order, ['urgent', 'mid', 'late-low', 'later-low']);

  // Preemption: the older request with the worse (higher) priority value is the victim.
  const p = setup({ policy: 'priority', numBlocks: 4, blockSize: 2, maxNumSeqs: 2 });
  const older = makeRequest('older-low', 3, { maxTokens: 4, priority: 1 });
  const newer = makeRequest('newer-high', 3, { maxTokens: 4, priority: 0 });
  p.scheduler.addRequest(older);
  p.scheduler.addRequest(newer);
  const first = p.scheduler.schedule();
  assert.deepEqual(rows(first), [['newer-high', 0, 3, true], ['older-low', 0, 3, true]]);
  let preempted: readonly string[] = [];
  p.scheduler.updateFromOutput(first, p.model.step(first));
  for (let i = 0; i < 3 && preempted.length === 0; i++) {
    const step = p.scheduler.schedule();
    preempted = step.preemptedRequestIds;
    p.scheduler.updateFromOutput(step, p.model.step(step));
  }
  assert.deepEqual(preempted, ['older-low']);
  runToCompletion(p.scheduler, p.model);
  assert.deepEqual(older.outputTokenIds, [3, 4, 5, 6].map((pos) => fakeToken('older-low', pos, 1000)));
});

test('FCFS admission: a head that does not fit blocks those behind it (no skipping ahead)', () => {
  const { scheduler } = setup({ numBlocks: 8, blockSize: 4, maxNumBatchedTokens: 64, maxModelLen: 64 });
  scheduler.addRequest(makeRequest('a', 20, { maxTokens: 4 })); // 5 blocks now
  scheduler.addRequest(makeRequest('b', 16, { maxTokens: 1 })); // 4 blocks: only 3 left
  scheduler.addRequest(makeRequest('c', 2, { maxTokens: 1 })); // 1 block would fit
  const first = scheduler.schedule();
  assert.deepEqual(rows(first), [['a', 0, 20, true]]);
  assert.deepEqual(scheduler.waitingRequests.map((r) => r.requestId), ['b', 'c']);
});

test('addRequest validates: duplicate ids, reused requests; config validation', () => {
  const { scheduler } = setup();
  const r = makeRequest('dup', 4);
  scheduler.addRequest(r);
  assert.throws(() => scheduler.addRequest(makeRequest('dup', 4)), /requestId: expected an id not used/);
  const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
  assert.throws(() => new Scheduler({ maxNumBatchedTokens: 0, maxNumSeqs: 1, maxModelLen: 8 }, kv), /maxNumBatchedTokens: expected an integer >= 1, got 0/);
  assert.throws(() => new Scheduler({ maxNumBatchedTokens: 8, maxNumSeqs: 1, maxModelLen: 8, policy: 'lifo' as never }, kv), /policy/);
  assert.throws(() => new Request({ requestId: 'e', promptTokenIds: [] }), /promptTokenIds: expected a non-empty array/);
  assert.throws(() => new Request({ requestId: 'e', promptTokenIds: [1, -2] }), /promptTokenIds\[1\]/);
});

test('prefillTokenLimit: while requests decode, prompt tokens per step are capped; without decodes a prompt takes the whole budget', () => {
  const limits: number[] = [];
  const { scheduler, model } = setup({ maxNumBatchedTokens: 64, prefillTokenLimit: (numDecodes) => (limits.push(numDecodes), 2 * numDecodes + 3) });
  scheduler.addRequest(makeRequest('d', 8, { maxTokens: 20 }));
  const first = scheduler.schedule();
  assert.deepEqual(rows(first), [['d', 0, 8, true]]);
  assert.deepEqual(limits, [], 'no decode rows yet: no limit asked for');
  scheduler.updateFromOutput(first, model.step(first));
  scheduler.addRequest(makeRequest('p', 12, { maxTokens: 2 }));
  scheduler.addRequest(makeRequest('q', 6, { maxTokens: 2 }));
  const second = scheduler.schedule();
  // One decode row: at most 2 * 1 + 3 = 5 prompt tokens, and q waits.
  assert.deepEqual(rows(second), [['d', 8, 1, true], ['p', 0, 5, false]]);
  assert.deepEqual(limits, [1]);
  scheduler.updateFromOutput(second, model.step(second));
  const third = scheduler.schedule();
  assert.deepEqual(rows(third), [['d', 9, 1, true], ['p', 5, 5, false]]);
  scheduler.updateFromOutput(third, model.step(third));
  const fourth = scheduler.schedule();
  // p's last 2 prompt tokens, then q's first 3 within the same limit.
  assert.deepEqual(rows(fourth), [['d', 10, 1, true], ['p', 10, 2, true], ['q', 0, 3, false]]);
  scheduler.updateFromOutput(fourth, model.step(fourth));
  const fifth = scheduler.schedule();
  // Two decode rows now (d, p): 7 prompt tokens allowed; q needs 3.
  assert.deepEqual(rows(fifth), [['d', 11, 1, true], ['p', 12, 1, true], ['q', 3, 3, true]]);
  runToCompletion(scheduler, model);
  assert.equal(scheduler.stats().numUsedBlocks, 0);

  // A limit below one token still lets prompts progress, one token per step.
  const slow = setup({ maxNumBatchedTokens: 64, prefillTokenLimit: () => 0 });
  slow.scheduler.addRequest(makeRequest('d', 4, { maxTokens: 10 }));
  const s1 = slow.scheduler.schedule();
  slow.scheduler.updateFromOutput(s1, slow.model.step(s1));
  slow.scheduler.addRequest(makeRequest('p', 3, { maxTokens: 1 }));
  const s2 = slow.scheduler.schedule();
  assert.deepEqual(rows(s2), [['d', 4, 1, true], ['p', 0, 1, false]]);
});

test('scheduleAhead: builds the decode after the step in flight, or nothing when that step needs schedule()', async () => {
  const { VLLM_DEFAULTS } = await import('../../../lib/sampling/sampling-params.js');
  const { scheduler, model } = setup({ maxNumBatchedTokens: 64, maxNumSeqs: 4, blockSize: 4 });
  scheduler.addRequest(makeRequest('a', 6, { maxTokens: 10 }));
  scheduler.addRequest(makeRequest('b', 4, { maxTokens: 2 }));
  const first = scheduler.schedule();
  // Each row continues its row of `first`, at the position of the token `first` samples for it; b's
  // one token in flight is its last (maxTokens 2 counts it), so b is left out.
  scheduler.updateFromOutput(first, model.step(first));
  const second = scheduler.schedule();
  const ahead = scheduler.scheduleAhead(second);
  assert.ok(ahead);
  assert.deepEqual(ahead.scheduled.map((e) => [e.request.requestId, e.startPosition, e.numScheduledTokens, e.continuesRow]), [['a', 7, 1, 0]]);
  // The block for position 7 was allocated ahead (a has 4-token blocks: positions 0-7 need 2).
  assert.equal(ahead.scheduled[0]?.blockIds.length, 2);
  // Results apply in order; b finishes with `second`'s token and has no row in `ahead`.
  scheduler.updateFromOutput(second, model.step(second));
  assert.equal(scheduler.getRequest('b'), undefined);
  const sampled = model.step(ahead);
  scheduler.updateFromOutput(ahead, sampled);
  assert.equal(scheduler.getRequest('a')?.numOutputTokens, 3);

  // Nothing is built ahead while a request waits (admission needs schedule())...
  const inFlight = scheduler.schedule();
  scheduler.addRequest(makeRequest('c', 3));
  assert.equal(scheduler.scheduleAhead(inFlight), null);
  scheduler.updateFromOutput(inFlight, model.step(inFlight));
  const withC = scheduler.schedule();
  scheduler.updateFromOutput(withC, model.step(withC));
  // ...nor for a request whose penalties read the token still in flight.
  const penalized = makeRequest('d', 3, { samplingParams: { ...VLLM_DEFAULTS, repetitionPenalty: 1.2 } });
  scheduler.addRequest(penalized);
  const withD = scheduler.schedule();
  assert.equal(scheduler.scheduleAhead(withD), null);
  scheduler.updateFromOutput(withD, model.step(withD));
  scheduler.abort('d');
  // ...nor when the token budget left a request out of the step in flight.
  const tight = setup({ maxNumBatchedTokens: 4, maxNumSeqs: 4, blockSize: 4 });
  tight.scheduler.addRequest(makeRequest('x', 4));
  tight.scheduler.addRequest(makeRequest('y', 4));
  const onlyX = tight.scheduler.schedule();
  assert.deepEqual(onlyX.scheduled.map((e) => e.request.requestId), ['x']);
  assert.equal(tight.scheduler.scheduleAhead(onlyX), null);
});
