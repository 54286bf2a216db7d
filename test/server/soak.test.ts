// The soak's reduced CI run (bench/soak.ts runs >= 2,000 requests at concurrency 64): 200 streamed
// greedy requests at concurrency 16 over the OpenAI (completions, chat), TGI and KServe streaming
// routes of a real server process, 30 % of the clients disconnecting before the first token, during a
// long prefill or mid-stream, with a KV cache small enough to preempt, and SIGTERM while the last wave
// of streams is in flight. Every completed request equals its reference (the same request alone),
// those in flight at the signal included; none fails, hangs or gets a 5xx; the drain aborts nothing
// and the server exits 0; after the drain nothing runs or waits and no KV block is used
// (engine.stats() and /metrics); the server's RSS in the last quarter of the run (sampled after a
// full GC, every sample here) is at most 5 % above the second quarter's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, runSoak } from '../../bench/lib/soak/run.js';
import { MODELS, modelPath } from '../helpers/models.js';

test('soak (reduced): 200 streamed requests at concurrency 16 with 30 % disconnects, SIGTERM at the end', { timeout: 120_000 }, async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  const started = performance.now();
  const report = await runSoak({
    model,
    numRequests: 200,
    concurrency: 16,
    disconnectShare: 0.3,
    seed: 7,
    maxTokens: [8, 16, 32],
    requestTimeoutMs: 60_000,
    // 400 tokens of KV: sixteen streams do not fit, so some are preempted (and recomputed).
    // A budget of 48 tokens per step: a long prompt's prefill spans several steps.
    engine: { kvCacheMemory: '512KiB', maxModelLen: 256, maxNumBatchedTokens: 48 },
    // A short run: every memory sample is a settled one.
    settleEvery: 1,
  });
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);
  assert.deepEqual(report.mismatches, []);
  assert.deepEqual(report.failed, []);
  assert.equal(report.hung, 0);
  assert.equal(report.fiveHundreds, 0);
  assert.ok(report.completed >= 100, `only ${report.completed} requests completed`);
  const disconnects = Object.values(report.disconnected).reduce((a, b) => a + b, 0);
  assert.ok(disconnects >= 40, `only ${disconnects} disconnects`);
  assert.equal(report.completed + disconnects + report.sigterm.refused, report.numRequests);
  // Clients left the server at each stage: while their request waited, during its prefill, while it decoded.
  assert.ok(report.after.aborts.decode > 0 && report.after.aborts.prefill > 0 && report.after.aborts.waiting > 0, JSON.stringify(report.after.aborts));
  // SIGTERM with streams in flight: each ends exactly as it would have without the signal (a mismatch
  // or failure above would show it), or disconnects as planned; nothing is aborted or refused.
  const sig = report.sigterm;
  assert.ok(sig.clientOpen >= 8 && sig.completedAfter >= 4, `only ${sig.clientOpen} requests open at SIGTERM, ${sig.completedAfter} completed after it`);
  assert.equal(sig.completedAfter + sig.disconnectedAfter + sig.refused, sig.clientOpen);
  // New work while it drains: 503 with Retry-After (or the listener is already closed), nothing else.
  assert.deepEqual(sig.probeProblems, []);
  assert.ok(sig.probesRefused >= 1, JSON.stringify(sig));
  assert.equal(sig.refusedWithoutRetryAfter, 0);
  assert.equal(sig.aborted, 0);
  assert.equal(sig.exitCode, 0);
  assert.ok(report.after.stats.numPreemptions > 0, 'the KV cache is small enough for preemptions');
  assert.equal(report.after.stats.numRunning, 0);
  assert.equal(report.after.stats.numWaiting, 0);
  assert.equal(report.after.stats.kvBlocksUsed, 0);
  assert.equal(report.metricsAfter.running, 0);
  assert.equal(report.metricsAfter.waiting, 0);
  assert.equal(report.metricsAfter.kvUsage, 0);
  // /metrics counts every request the engine ended, by reason, aborted ones included (also those whose
  // client left before their first event).
  for (const reason of ['stop', 'length', 'abort']) {
    assert.equal(report.metricsAfter.finished[reason] ?? 0, report.after.finished[reason] ?? 0, `requests finished with "${reason}": /metrics vs engine`);
  }
  // Settled RSS (after a full GC) of the last quarter at most 5 % above the second quarter's.
  assert.ok(report.rss.change <= 0.05, `RSS grew ${(report.rss.change * 100).toFixed(2)} % between the second and the last quarter`);
  assert.ok(performance.now() - started < 60_000, 'the reduced soak takes under a minute');
});
