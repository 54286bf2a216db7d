// bench serve: statistics against hand-computed values, and the client against a fake streaming
// server with known delays, sizes and injected failures; the CLI against servers that are down or refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkCause } from '../../lib/bench/bench-error.js';
import { exponentialGap, seededRandom } from '../../lib/bench/random.js';
import { runServeBench } from '../../lib/bench/serve-runner.js';
import { latencyStatsMs, peakPerSecond, percentile, summarize, type RequestRecord } from '../../lib/bench/serve-stats.js';
import { parseBenchServeArgs, run as runCli } from '../../lib/cli/bench-serve.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeOpenAiServer } from '../helpers/fake-openai-server.js';
import { runCli as runKvserve } from '../helpers/cli.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('percentile interpolates linearly like numpy', () => {
  close(percentile([1, 2, 3, 4], 50), 2.5);
  close(percentile([1, 2, 3, 4], 99), 3.97);
  close(percentile([10], 95), 10);
  close(percentile([0, 10], 95), 9.5);
  assert.equal(percentile([], 50), 0);
});

test('latencyStatsMs reports milliseconds with population std', () => {
  const s = latencyStatsMs([0.001, 0.002, 0.003, 0.004]);
  close(s.mean, 2.5);
  close(s.median, 2.5);
  close(s.std, Math.sqrt(1.25));
  close(s.p99, 3.97);
});

function record(partial: Partial<RequestRecord>): RequestRecord {
  return { success: true, error: null, promptLen: 10, outputTokens: 5, ttft: 0.1, itl: [], latency: 0.5, startTime: 0, chunkTimes: [], ...partial };
}

test('summarize: counts, throughputs and TPOT as vLLM defines them', () => {
  const r = summarize([
    record({ outputTokens: 5, ttft: 0.1, latency: 0.5, itl: [0.1, 0.1, 0.1, 0.1], chunkTimes: [0.1, 0.2, 0.3, 0.4, 0.5] }),
    record({ outputTokens: 3, ttft: 0.2, latency: 0.4, itl: [0.1, 0.1], promptLen: 20, chunkTimes: [1.2, 1.3, 1.4] }),
    record({ outputTokens: 1, ttft: 0.3, latency: 0.3 }),
    record({ success: false, error: 'HTTP 500', outputTokens: 0 }),
  ], 2, 3);
  assert.equal(r.completed, 3);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.errors, ['HTTP 500']);
  assert.equal(r.total_input_tokens, 40);
  assert.equal(r.total_output_tokens, 9);
  close(r.request_throughput, 1.5);
  close(r.output_throughput, 4.5);
  close(r.total_token_throughput, 24.5);
  // TPOT: (0.5-0.1)/4 = 100 ms and (0.4-0.2)/2 = 100 ms; the one-token request has none.
  close(r.mean_tpot_ms, 100, 1e-6);
  close(r.mean_ttft_ms, 200, 1e-6);
  close(r.median_e2el_ms, 400, 1e-6);
  close(r.mean_itl_ms, 100, 1e-6);
  assert.equal(r.max_output_tokens_per_s, 5);
  assert.equal(r.max_concurrent_requests, 3);
  assert.deepEqual(r.output_lens, [5, 3, 1]);
});

test('peakPerSecond buckets chunk times by whole seconds from the origin', () => {
  assert.equal(peakPerSecond([10.1, 10.2, 11.5, 11.6, 11.7], 10), 3);
  assert.equal(peakPerSecond([], 0), 0);
});

test('bench serve against a fake server: counts, failures, sizes and latency bounds', async (t) => {
  const server = await startFakeOpenAiServer({ firstChunkDelayMs: 30, chunkDelayMs: 5, failEvery: 6, tokenizer: true });
  t.after(() => server.close());
  const report = await runServeBench({
    baseUrl: server.url, model: 'fake-model', concurrencies: [1, 4], numPrompts: 12, durationS: null,
    inputLen: 8, outputLen: 5, requestRate: Infinity, seed: 1, progress: false,
  });
  assert.equal(report.prompts_sized_by, 'tokenizer');
  assert.equal(report.levels.length, 2);
  // One probe request, then 12 per level; every 6th completion request failed.
  assert.equal(server.numCompletions(), 25);
  const totalFailed = report.levels.reduce((s, l) => s + l.failed, 0);
  assert.equal(totalFailed, 4);
  for (const level of report.levels) {
    assert.equal(level.completed + level.failed, 12);
    assert.equal(level.total_output_tokens, level.completed * 5);
    assert.deepEqual(level.input_lens, new Array(level.completed).fill(8));
    assert.ok(level.mean_ttft_ms >= 29, `TTFT ${level.mean_ttft_ms} ms is below the server's 30 ms first-chunk delay`);
    assert.ok(level.mean_e2el_ms >= level.mean_ttft_ms);
    assert.ok(level.mean_tpot_ms > 0 && level.mean_itl_ms > 0);
    assert.ok(level.errors.every((e) => e.startsWith('HTTP 500')));
  }
  assert.equal(report.levels[0]?.max_concurrent_requests, 1);
  assert.equal(report.levels[1]?.max_concurrent_requests, 4);
  assert.equal(server.peakConcurrency(), 4);
});

test('bench serve: every request has a prompt no earlier request had, across levels (a reused one would hit the prefix cache)', async (t) => {
  const server = await startFakeOpenAiServer({ firstChunkDelayMs: 1, chunkDelayMs: 1, tokenizer: true });
  t.after(() => server.close());
  // 3 levels x 50 prompts outrun the first chunk of 64 prompts: later ones are built while the run goes on.
  const report = await runServeBench({
    baseUrl: server.url, model: 'fake-model', concurrencies: [1, 2, 8], numPrompts: 50, durationS: null,
    inputLen: 6, outputLen: 2, requestRate: Infinity, seed: 5, progress: false,
  });
  assert.equal(report.prompts_sized_by, 'tokenizer');
  const prompts = server.completionPrompts();
  assert.equal(prompts.length, 1 + 3 * 50);
  assert.equal(new Set(prompts).size, prompts.length, 'a prompt was sent twice');
  for (const level of report.levels) assert.deepEqual(level.input_lens, new Array(50).fill(6));
});

test('bench serve: Poisson arrivals take at least the sum of their seeded gaps', async (t) => {
  const server = await startFakeOpenAiServer({ firstChunkDelayMs: 1, chunkDelayMs: 1 });
  t.after(() => server.close());
  const rate = 40;
  const numPrompts = 10;
  const report = await runServeBench({
    baseUrl: server.url, model: 'fake-model', concurrencies: [64], numPrompts, durationS: null,
    inputLen: 4, outputLen: 2, requestRate: rate, seed: 3, progress: false,
  });
  const random = seededRandom(3 + 64);
  let gaps = 0;
  for (let i = 0; i < numPrompts - 1; i++) gaps += exponentialGap(random, rate);
  const level = report.levels[0];
  assert.ok(level);
  assert.equal(level.completed, numPrompts);
  assert.equal(report.prompts_sized_by, 'words');
  assert.ok(level.duration >= gaps, `duration ${level.duration}s < scheduled arrivals ${gaps}s`);
  assert.equal(level.request_rate, rate);
});

test('bench serve --duration sends requests for that long', async (t) => {
  const server = await startFakeOpenAiServer({ firstChunkDelayMs: 5, chunkDelayMs: 2, tokenizer: true });
  t.after(() => server.close());
  const report = await runServeBench({
    baseUrl: server.url, model: 'fake-model', concurrencies: [2], numPrompts: null, durationS: 0.3,
    inputLen: 4, outputLen: 3, requestRate: Infinity, seed: 0, progress: false,
  });
  const level = report.levels[0];
  assert.ok(level);
  assert.ok(level.duration >= 0.3);
  assert.ok(level.completed >= 2, `only ${level.completed} requests in 0.3 s`);
  assert.equal(level.failed, 0);
});

test('bench serve CLI saves the vLLM-named JSON fields', async (t) => {
  const server = await startFakeOpenAiServer({ firstChunkDelayMs: 2, chunkDelayMs: 1, tokenizer: true });
  t.after(() => server.close());
  const dir = mkdtempSync(join(tmpdir(), 'bench-serve-'));
  const log = console.log;
  console.log = () => undefined;
  let code: number;
  try {
    code = await runCli(['--base-url', server.url, '--num-prompts', '3', '--concurrency', '1,2', '--input-len', '4', '--output-len', '3',
      '--save-result', '--result-dir', dir, '--no-progress']);
  } finally {
    console.log = log;
  }
  assert.equal(code, 0);
  const [file] = readdirSync(dir);
  assert.ok(file);
  const saved = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { model_id: string; levels: Array<Record<string, unknown>> };
  assert.equal(saved.model_id, 'fake-model');
  assert.equal(saved.levels.length, 2);
  for (const key of ['completed', 'failed', 'request_throughput', 'output_throughput', 'mean_ttft_ms', 'median_ttft_ms', 'p99_ttft_ms',
    'mean_tpot_ms', 'p95_tpot_ms', 'mean_itl_ms', 'median_itl_ms', 'p99_itl_ms', 'mean_e2el_ms', 'p99_e2el_ms']) {
    assert.equal(typeof saved.levels[0]?.[key], 'number', key);
  }
  assert.equal(saved.levels[0]?.completed, 3);
});

test('bench serve flags: defaults and errors that name the flag', () => {
  const c = parseBenchServeArgs(['--concurrency', '1,2,4', '--duration', '60s'], {});
  assert.ok(c !== 'help');
  assert.deepEqual(c.concurrencies, [1, 2, 4]);
  assert.equal(c.durationS, 60);
  assert.equal(c.numPrompts, null);
  assert.equal(c.requestRate, Infinity);
  assert.equal(c.baseUrl, 'http://127.0.0.1:8000');
  assert.throws(() => parseBenchServeArgs(['--concurrency', '1,x'], {}), /--concurrency: expected an integer >= 1, got "x"/);
  assert.throws(() => parseBenchServeArgs(['--duration', '1m', '--num-prompts', '5'], {}), /--duration: expected either --duration or --num-prompts/);
  assert.throws(() => parseBenchServeArgs(['--request-rate', '0'], {}), /--request-rate/);
  assert.throws(() => parseBenchServeArgs(['--bogus'], {}), /bogus/);
  const withKey = parseBenchServeArgs([], { OPENAI_API_KEY: 'k' });
  assert.ok(withKey !== 'help' && withKey.apiKey === 'k' && withKey.numPrompts === 100);
});

/** A local port with nothing listening on it (bound, then closed): connecting is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('bench serve CLI against nothing listening: one line naming the base URL and ECONNREFUSED, exit 1, no stack', async () => {
  const port = await closedPort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const expected = `kvserve bench serve: cannot reach ${baseUrl}: connect ECONNREFUSED 127.0.0.1:${port} (is the server running? check --base-url)`;
  // Without --model the model is looked up first (GET /v1/models); with one, the first test request fails.
  for (const extra of [[], ['--model', 'some-model']]) {
    const result = await runKvserve(['bench', 'serve', '--base-url', `${baseUrl}/`, '--num-prompts', '2', '--no-progress', ...extra]);
    const what = `${JSON.stringify(extra)}: ${result.stderr}`;
    assert.equal(result.code, 1, what);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines[lines.length - 1], expected, what);
    assert.ok(lines.length <= 2, `at most the run's header line before the error: ${what}`);
    assert.doesNotMatch(result.stderr, /TypeError|fetch failed|\n\s+at /, what);
    assert.equal(result.stdout, '');
  }
});

test('bench serve CLI: a server that answers /v1/models with an error is named with its status, exit 1', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `no route ${req.url ?? ''}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const noModel = await runKvserve(['bench', 'serve', '--base-url', baseUrl, '--no-progress']);
  assert.equal(noModel.code, 1, noModel.stderr);
  assert.equal(noModel.stderr.trim(), `kvserve bench serve: GET ${baseUrl}/v1/models: HTTP 404: {"error":"no route /v1/models"}`);
  const withModel = await runKvserve(['bench', 'serve', '--base-url', baseUrl, '--model', 'm', '--num-prompts', '2', '--no-progress']);
  assert.equal(withModel.code, 1, withModel.stderr);
  assert.match(withModel.stderr.trim().split('\n').pop() ?? '',
    new RegExp(`^kvserve bench serve: the initial test request to ${baseUrl.replace(/\./g, '\\.')} failed: HTTP 404: .*no route /v1/completions`));
});

test('networkCause: the deepest cause of fetch\'s "fetch failed", its code kept, address attempts joined', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
  assert.equal(networkCause(new TypeError('fetch failed', { cause: refused })), 'connect ECONNREFUSED 127.0.0.1:8000');
  const timeout = Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
  assert.equal(networkCause(new TypeError('fetch failed', { cause: timeout })), 'UND_ERR_CONNECT_TIMEOUT: Connect Timeout Error');
  const both = Object.assign(new AggregateError([new Error('connect ECONNREFUSED ::1:8000'), new Error('connect ECONNREFUSED 127.0.0.1:8000')], ''), { code: 'ECONNREFUSED' });
  assert.equal(networkCause(new TypeError('fetch failed', { cause: both })), 'connect ECONNREFUSED ::1:8000; connect ECONNREFUSED 127.0.0.1:8000');
  assert.equal(networkCause('plain'), 'plain');
});
