// Drain bookkeeping and stream merging (no engine involved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lifecycle } from '../../lib/server/lifecycle.js';
import { mergeAsync } from '../../lib/server/generation.js';

test('drain waits for in-flight requests that finish before the deadline', async () => {
  const lifecycle = new Lifecycle();
  const c = new AbortController();
  const release = lifecycle.track(c);
  let released = false;
  setTimeout(() => {
    released = true;
    release();
  }, 50);
  const result = await lifecycle.drain(10_000);
  assert.equal(lifecycle.draining, true);
  assert.equal(released, true, 'drain returned before the request finished');
  assert.equal(result.numAborted, 0);
  assert.equal(c.signal.aborted, false);
  assert.ok(result.elapsedMs < 9000, `took ${result.elapsedMs} ms`);
});

test('drain aborts what is still running at the deadline and waits for it to unwind', async () => {
  const lifecycle = new Lifecycle();
  const slow = new AbortController();
  const release = lifecycle.track(slow);
  slow.signal.addEventListener('abort', () => setTimeout(release, 20));
  const result = await lifecycle.drain(30);
  assert.equal(result.numAborted, 1);
  assert.equal(slow.signal.aborted, true);
  assert.equal(lifecycle.numInFlight, 0);
});

test('drain with nothing in flight returns at once; release is idempotent', async () => {
  const lifecycle = new Lifecycle();
  const release = lifecycle.track(new AbortController());
  release();
  release();
  assert.equal(lifecycle.numInFlight, 0);
  const result = await lifecycle.drain(10_000);
  assert.ok(result.elapsedMs < 1000);
});

async function* delayed<T>(values: T[], ms: number): AsyncGenerator<T> {
  for (const v of values) {
    await sleep(ms);
    yield v;
  }
}

test('mergeAsync interleaves sources as values arrive and tags them', async () => {
  const out: Array<[number, string]> = [];
  for await (const item of mergeAsync([delayed(['a1', 'a2'], 30), delayed(['b1', 'b2', 'b3'], 5)])) out.push(item);
  assert.equal(out.length, 5);
  assert.deepEqual(out.filter(([i]) => i === 0).map(([, v]) => v), ['a1', 'a2']);
  assert.deepEqual(out.filter(([i]) => i === 1).map(([, v]) => v), ['b1', 'b2', 'b3']);
  assert.deepEqual(out[0], [1, 'b1']);
});
