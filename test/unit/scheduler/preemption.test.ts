import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Request } from '../../../lib/scheduler/request.js';
import { fakeToken, randomInt, runToCompletion, seededRandom } from '../../helpers/fake-model.js';
import { checkSchedulerInvariants } from '../../helpers/kv-invariants.js';
import { setup } from './setup.js';

const EOS = 7;

/** Runs the same 14 requests through a cache of `numBlocks`; returns every output and the preemption count. */
function runWorkload(numBlocks: number, enablePrefixCaching: boolean, policy: 'fcfs' | 'priority') {
  const { scheduler, model } = setup({
    numBlocks, blockSize: 4, maxNumBatchedTokens: 48, maxNumSeqs: 6, maxModelLen: 128, enablePrefixCaching, policy,
  });
  const random = seededRandom(42);
  const sharedPrefix = Array.from({ length: 9 }, (_, i) => 300 + i);
  const requests: Request[] = [];
  for (let i = 0; i < 14; i++) {
    const tail = Array.from({ length: randomInt(random, 1, 24) }, () => randomInt(random, 10, 999));
    const request = new Request({
      requestId: `r${i}`,
      promptTokenIds: i % 2 === 0 ? [...sharedPrefix, ...tail] : tail,
      maxTokens: randomInt(random, 8, 40),
      eosTokenIds: [EOS],
      priority: i % 3,
      arrivalTime: i,
    });
    requests.push(request);
    scheduler.addRequest(request);
  }
  runToCompletion(scheduler, model, { onStep: () => checkSchedulerInvariants(scheduler) });
  assert.equal(scheduler.stats().numUsedBlocks, 0);
  return { outputs: new Map(requests.map((r) => [r.requestId, [...r.outputTokenIds]])), requests, stats: scheduler.stats() };
}

for (const policy of ['fcfs', 'priority'] as const) {
  for (const enablePrefixCaching of [true, false]) {
    test(`preempted requests resume exactly (${policy}, prefix caching ${enablePrefixCaching ? 'on' : 'off'})`, () => {
      const roomy = runWorkload(512, enablePrefixCaching, policy);
      const tight = runWorkload(20, enablePrefixCaching, policy);
      assert.equal(roomy.stats.numPreemptions, 0);
      assert.ok(tight.stats.numPreemptions >= 5, `only ${tight.stats.numPreemptions} preemptions: the test does not exercise them`);
      assert.deepEqual(tight.outputs, roomy.outputs);
      // And each output is what the fake model says for that request, position by position.
      for (const request of tight.requests) {
        const expected = request.outputTokenIds.map((_, i) => fakeToken(request.requestId, request.numPromptTokens + i, 1000));
        assert.deepEqual(request.outputTokenIds, expected);
        if (request.status === 'finished_length') assert.equal(request.numOutputTokens, request.maxTokens);
        else assert.equal(request.outputTokenIds.at(-1), EOS);
      }
    });
  }
}
