// Randomized simulation (fixed seeds): many requests with random lengths, shared prefixes, salts,
// priorities, n > 1 siblings, arrivals and aborts (some while their step is in flight) against a
// small KV cache. Every step: the budget and maxNumSeqs hold, no request appears twice, every
// block's ref count equals the number of tables holding it, free + used = total, and the fake
// model reads back every position through the block tables. At the end every block is free and
// every request that was not aborted produced exactly the fake model's tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvserveError } from '../../../lib/errors.js';
import { Request } from '../../../lib/scheduler/request.js';
import type { SchedulerOutput } from '../../../lib/scheduler/scheduler-output.js';
import { fakeToken, randomInt, seededRandom } from '../../helpers/fake-model.js';
import { checkSchedulerInvariants } from '../../helpers/kv-invariants.js';
import { setup } from './setup.js';

const EOS = 3;
const VOCAB = 1000;

interface Planned {
  readonly step: number;
  readonly requests: Request[];
  readonly abortStep: number | null;
  readonly abortInFlight: boolean;
}

/**
 * asyncScheduling: run as the engine does with it on: while a step is in flight, the step after it is
 * built ahead (scheduleAhead) and run by the model before the first one's results are applied.
 */
function simulate(seed: number, policy: 'fcfs' | 'priority', enablePrefixCaching: boolean, prefillTokenLimit?: (numDecodes: number) => number, asyncScheduling = false) {
  const random = seededRandom(seed);
  const config = { numBlocks: 40, blockSize: 4, maxNumBatchedTokens: 32, maxNumSeqs: 6, maxModelLen: 96, policy, enablePrefixCaching };
  const { scheduler, kv, model } = setup({ ...config, ...(prefillTokenLimit ? { prefillTokenLimit } : {}) });
  const prefixes = [0, 1, 2].map((p) => Array.from({ length: randomInt(random, 4, 20) }, (_, i) => 100 + 50 * p + i));
  const plans: Planned[] = [];
  for (let i = 0; i < 70; i++) {
    const head = random() < 0.45 ? (prefixes[randomInt(random, 0, 2)] as number[]) : [];
    const tail = Array.from({ length: randomInt(random, 1, 20) }, () => randomInt(random, 10, VOCAB - 1));
    const prompt = [...head, ...tail];
    const n = random() < 0.15 ? randomInt(random, 2, 3) : 1;
    const cacheSalt = random() < 0.2 ? (random() < 0.5 ? 't1' : 't2') : null;
    const shared = {
      promptTokenIds: prompt,
      maxTokens: randomInt(random, 1, 30),
      minTokens: random() < 0.2 ? 2 : 0,
      eosTokenIds: [EOS],
      ignoreEos: random() < 0.2,
      priority: randomInt(random, 0, 2),
      arrivalTime: i,
      cacheSalt,
    };
    const requests = Array.from({ length: n }, (_, k) => new Request({ ...shared, requestId: `s${seed}-r${i}${k > 0 ? `-c${k}` : ''}` }));
    const step = randomInt(random, 0, 150);
    const aborted = random() < 0.15;
    plans.push({ step, requests, abortStep: aborted ? step + randomInt(random, 0, 40) : null, abortInFlight: random() < 0.5 });
  }

  const abortedIds = new Set<string>();
  const finishedIds = new Set<string>();
  let step = 0;
  let numRowsSeen = 0;
  let numAhead = 0;
  // Steps the model has run whose results are not applied yet (in order); at most 2.
  const inFlight: Array<{ output: SchedulerOutput; sampled: Map<string, number[]> }> = [];
  while (step <= 150 || scheduler.hasUnfinishedRequests() || inFlight.length > 0) {
    assert.ok(step < 5000, 'the simulation does not finish');
    for (const plan of plans) {
      if (plan.step !== step) continue;
      const [parent, ...children] = plan.requests as [Request, ...Request[]];
      scheduler.addRequest(parent);
      for (const child of children) scheduler.addRequest(child, { forkFrom: parent.requestId });
    }
    const abortNow = (inFlight: boolean) => {
      for (const plan of plans) {
        if (plan.abortStep !== step || plan.abortInFlight !== inFlight) continue;
        for (const request of plan.requests) {
          if (scheduler.abort(request.requestId)) abortedIds.add(request.requestId);
        }
      }
    };
    abortNow(false);
    let ahead: SchedulerOutput | null = null;
    if (inFlight.length === 1) {
      ahead = scheduler.scheduleAhead((inFlight[0] as { output: SchedulerOutput }).output);
      if (ahead) {
        numAhead++;
      } else {
        // Nothing could be built ahead: apply the step in flight, then schedule as usual.
        const done = inFlight.shift() as { output: SchedulerOutput; sampled: Map<string, number[]> };
        for (const request of scheduler.updateFromOutput(done.output, done.sampled)) finishedIds.add(request.requestId);
        checkSchedulerInvariants(scheduler);
      }
    }
    const output = ahead ?? scheduler.schedule();
    const ids = output.scheduled.map((e) => e.request.requestId);
    assert.equal(new Set(ids).size, ids.length, 'a request scheduled twice in one step');
    assert.ok(output.numBatchedTokens <= config.maxNumBatchedTokens);
    assert.equal(output.numBatchedTokens, output.scheduled.reduce((sum, e) => sum + e.numScheduledTokens, 0));
    assert.ok(output.scheduled.length <= config.maxNumSeqs);
    if (prefillTokenLimit) {
      // Decode rows: sampling requests one token past their last computed one; the rest are prompt tokens.
      const decodes = output.scheduled.filter((e) => e.request.numOutputTokens > 0 && e.numScheduledTokens === 1 && e.startPosition === e.request.numTokens - 1);
      const promptTokens = output.numBatchedTokens - decodes.length;
      // The limit grows with the number of decodes, and at most numRunning requests were decoding.
      if (decodes.length > 0) assert.ok(promptTokens <= Math.max(1, prefillTokenLimit(scheduler.stats().numRunning)), `step ${step}: ${promptTokens} prompt tokens next to ${decodes.length} decodes`);
    }
    for (const e of output.scheduled) {
      assert.ok(e.numScheduledTokens > 0);
      // A row built ahead computes the one token its request does not hold yet.
      const end = e.continuesRow !== undefined ? e.request.numTokens + 1 : e.request.numTokens;
      assert.equal(e.sampleThisStep, e.startPosition + e.numScheduledTokens === end);
    }
    for (const id of output.finishedRequestIds) assert.ok(finishedIds.has(id) || abortedIds.has(id), `${id} reported finished`);
    numRowsSeen += output.scheduled.length;
    checkSchedulerInvariants(scheduler);
    abortNow(true); // between schedule() and the step's results, as a disconnect would
    if (output.scheduled.length > 0) inFlight.push({ output, sampled: model.step(output) });
    // Without async scheduling every step is applied at once; with it, one step stays in flight
    // while the next is built, and its results are applied after the model ran that next step.
    while (inFlight.length > (asyncScheduling ? 1 : 0)) {
      const done = inFlight.shift() as { output: SchedulerOutput; sampled: Map<string, number[]> };
      for (const request of scheduler.updateFromOutput(done.output, done.sampled)) finishedIds.add(request.requestId);
      checkSchedulerInvariants(scheduler);
    }
    step++;
  }

  assert.equal(kv.usage().numUsedBlocks, 0);
  assert.equal(kv.pool.freeBlockIds().length, config.numBlocks);
  const stats = scheduler.stats();
  assert.equal(stats.numRunning + stats.numWaiting, 0);
  let numChecked = 0;
  for (const plan of plans) {
    for (const request of plan.requests) {
      if (abortedIds.has(request.requestId)) {
        assert.equal(request.status, 'finished_aborted');
        continue;
      }
      numChecked++;
      const prompt = request.numPromptTokens;
      const expected = request.outputTokenIds.map((_, i) => fakeToken(request.requestId, prompt + i, VOCAB));
      assert.deepEqual(request.outputTokenIds, expected, `${request.requestId} output`);
      const firstEos = expected.findIndex((t, i) => t === EOS && i + 1 >= request.minTokens);
      if (request.status === 'finished_stopped') {
        assert.ok(!request.ignoreEos && firstEos === expected.length - 1, `${request.requestId} stopped at EOS`);
      } else {
        assert.equal(request.status, 'finished_length');
        assert.equal(request.numOutputTokens, Math.min(request.maxTokens ?? Infinity, config.maxModelLen - prompt));
        assert.ok(request.ignoreEos || firstEos === -1 || firstEos === expected.length - 1);
      }
    }
  }
  return { stats, numChecked, numAborted: abortedIds.size, numRowsSeen, numAhead };
}

test('randomized simulation against a small cache keeps every invariant and exact outputs', () => {
  let numPreemptions = 0;
  let numHitTokens = 0;
  let numAborted = 0;
  for (const [seed, policy, caching] of [
    [1, 'fcfs', true], [2, 'priority', true], [3, 'fcfs', false], [4, 'priority', false], [5, 'fcfs', true], [6, 'priority', true],
  ] as const) {
    try {
      const result = simulate(seed, policy, caching);
      numPreemptions += result.stats.numPreemptions;
      numHitTokens += result.stats.prefixCacheHits;
      numAborted += result.numAborted;
      assert.ok(result.numChecked > 40, `seed ${seed}: only ${result.numChecked} requests completed`);
    } catch (error) {
      if (error instanceof KvserveError) throw new Error(`seed ${seed}: ${error.code}: ${error.message}`);
      throw error;
    }
  }
  // The simulation must exercise what it claims to.
  assert.ok(numPreemptions > 20, `only ${numPreemptions} preemptions`);
  assert.ok(numHitTokens > 100, `only ${numHitTokens} prefix-cache hit tokens`);
  assert.ok(numAborted > 10, `only ${numAborted} aborts`);
});

test('randomized simulation with a prefill token limit (stall-free batching) keeps every invariant and exact outputs', () => {
  for (const [seed, policy, caching] of [[11, 'fcfs', true], [12, 'priority', false], [13, 'fcfs', false]] as const) {
    const result = simulate(seed, policy, caching, (numDecodes) => numDecodes + 1);
    assert.ok(result.numChecked > 40, `seed ${seed}: only ${result.numChecked} requests completed`);
  }
});

test('randomized simulation with async scheduling (steps built ahead) keeps every invariant and exact outputs', () => {
  let numAhead = 0;
  let numPreemptions = 0;
  let numAborted = 0;
  for (const [seed, policy, caching] of [[21, 'fcfs', true], [22, 'priority', true], [23, 'fcfs', false], [24, 'priority', false]] as const) {
    const result = simulate(seed, policy, caching, undefined, true);
    assert.ok(result.numChecked > 40, `seed ${seed}: only ${result.numChecked} requests completed`);
    numAhead += result.numAhead;
    numPreemptions += result.stats.numPreemptions;
    numAborted += result.numAborted;
  }
  assert.ok(numAhead > 50, `only ${numAhead} steps built ahead`);
  assert.ok(numPreemptions > 5 && numAborted > 5, `preemptions ${numPreemptions}, aborts ${numAborted}`);
});
