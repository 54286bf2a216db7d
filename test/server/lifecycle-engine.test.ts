// Behaviour under real load with the real engine: a client that disconnects aborts its request and
// frees its KV blocks; a full queue answers 503 (429 on TGI) with Retry-After; draining turns
// readiness off, refuses new work and lets running streams finish; /metrics returns to zero.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../lib/server/app.js';
import { sseData } from '../../lib/bench/serve-request.js';
import { Engine } from '../../lib/engine/engine.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { STORY_TEMPLATE, eventually, metricValue, postJson, testEngineOptions } from '../helpers/serving.js';

const LONG = { prompt: 'Once upon a time', max_tokens: 200, ignore_eos: true, temperature: 0 };
/** Longer than two KV blocks, so repeating it hits the prefix cache. */
const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

async function withServer(t: import('node:test').TestContext, engineOverrides: Parameters<typeof testEngineOptions>[1] = {}) {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return null;
  const engine = await Engine.create(testEngineOptions(path, engineOverrides));
  const app = buildApp(engine, { chatTemplate: STORY_TEMPLATE, processMetrics: false, servedModelNames: ['stories'] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await engine.close();
  });
  return { engine, app, url };
}

async function metrics(app: FastifyInstance): Promise<string> {
  return (await app.inject({ method: 'GET', url: '/metrics' })).body;
}

async function idle(engine: Engine, app: FastifyInstance): Promise<void> {
  await eventually(() => {
    const s = engine.stats();
    return s.numRunning === 0 && s.numWaiting === 0 && s.kvBlocksUsed === 0;
  }, 'the engine to be idle with no KV blocks in use');
  const text = await metrics(app);
  assert.equal(metricValue(text, 'vllm:num_requests_running', { model_name: 'stories' }), 0);
  assert.equal(metricValue(text, 'vllm:num_requests_waiting', { model_name: 'stories' }), 0);
  assert.equal(metricValue(text, 'vllm:kv_cache_usage_perc', { model_name: 'stories' }), 0);
}

/** Opens a streaming request over a raw socket and resolves once `numEvents` SSE events arrived. */
function openStream(url: string, path: string, body: unknown, numEvents: number): Promise<{ destroy(): void; rest: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let seen = 0;
      let text = '';
      let resolved = false;
      const rest = new Promise<string>((done) => {
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          seen = text.split('\n\n').length - 1;
          if (!resolved && seen >= numEvents) {
            resolved = true;
            resolve({ destroy: () => req.destroy(), rest });
          }
        });
        res.on('end', () => done(text));
        res.on('close', () => done(text));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a client that disconnects mid-stream aborts its request; its KV blocks are freed', async (t) => {
  const s = await withServer(t);
  if (!s) return;
  for (const [path, body] of [
    ['/v1/completions', { ...LONG, stream: true }],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 200, ignore_eos: true, stream: true }],
    ['/generate_stream', { inputs: 'Once upon a time', parameters: { max_new_tokens: 200 } }],
    ['/v2/models/stories/generate_stream', { text_input: 'Once upon a time', parameters: { max_tokens: 200, ignore_eos: true } }],
  ] as const) {
    const stream = await openStream(s.url, path, body, 3);
    assert.ok(s.engine.stats().numRunning >= 1, `${path}: the request should be running`);
    stream.destroy();
    await idle(s.engine, s.app);
  }
  const text = await metrics(s.app);
  assert.equal(metricValue(text, 'vllm:request_success_total', { model_name: 'stories', finished_reason: 'abort' }), 4);
});

test('a non-streaming client that goes away aborts too', async (t) => {
  const s = await withServer(t);
  if (!s) return;
  const controller = new AbortController();
  const pending = fetch(`${s.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(LONG), signal: controller.signal,
  }).catch((err: unknown) => err);
  await eventually(() => s.engine.stats().numRunning === 1, 'the request to start');
  controller.abort();
  await pending;
  await idle(s.engine, s.app);
});

test('a full queue answers 503 with Retry-After (429 on TGI routes, 503 on KServe)', async (t) => {
  const s = await withServer(t, { maxNumSeqs: 1, maxNumQueuedRequests: 1 });
  if (!s) return;
  const running = openStream(s.url, '/v1/completions', { ...LONG, stream: true }, 2);
  await running;
  const queued = postJson(`${s.url}/v1/completions`, { ...LONG, max_tokens: 5 });
  await eventually(() => s.engine.stats().numWaiting === 1, 'a request to wait');
  const openai = await postJson(`${s.url}/v1/completions`, { prompt: 'x', max_tokens: 2 });
  assert.equal(openai.status, 503);
  assert.equal(openai.headers.get('retry-after'), '1');
  assert.equal(openai.body.error.code, 'overloaded');
  const tgi = await postJson(`${s.url}/generate`, { inputs: 'x', parameters: { max_new_tokens: 2 } });
  assert.equal(tgi.status, 429);
  assert.equal(tgi.headers.get('retry-after'), '1');
  assert.equal(tgi.body.error_type, 'overloaded');
  const kserve = await postJson(`${s.url}/v2/models/stories/generate`, { text_input: 'x' });
  assert.equal(kserve.status, 503);
  (await running).destroy();
  assert.equal((await queued).status, 200);
  await idle(s.engine, s.app);
});

test('drain: readiness off, new requests 503, running streams finish, then zero running and zero KV', async (t) => {
  const s = await withServer(t);
  if (!s) return;
  const stream = await openStream(s.url, '/v1/completions', { ...LONG, max_tokens: 120, stream: true }, 2);
  const tgiStream = await openStream(s.url, '/generate_stream', { inputs: 'Once upon a time', parameters: { max_new_tokens: 120 } }, 2);
  const drained = s.app.kvserve.drain(60_000);
  assert.equal((await fetch(`${s.url}/v2/health/ready`)).status, 503);
  assert.deepEqual(await (await fetch(`${s.url}/v2/health/ready`)).json(), { ready: false });
  assert.equal((await fetch(`${s.url}/v2/models/stories/ready`)).status, 503);
  assert.equal((await fetch(`${s.url}/health`)).status, 503);
  assert.equal((await fetch(`${s.url}/v2/health/live`)).status, 200);
  assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
  const refused = await postJson(`${s.url}/v1/completions`, { prompt: 'x', max_tokens: 2 });
  assert.equal(refused.status, 503);
  assert.ok(refused.headers.get('retry-after'));
  assert.match(refused.body.error.message, /shutting down/);
  assert.equal((await postJson(`${s.url}/generate`, { inputs: 'x' })).status, 503);
  assert.equal((await fetch(`${s.url}/v1/models`)).status, 503);

  const text = await stream.rest;
  const chunks = text.split('\n\n').filter((c) => c.startsWith('data: ')).map((c) => c.slice(6));
  assert.equal(chunks[chunks.length - 1], '[DONE]');
  const finishes = chunks.slice(0, -1).map((c) => JSON.parse(c) as { choices: Array<{ finish_reason: string | null }> }).flatMap((c) => c.choices.map((x) => x.finish_reason)).filter((f) => f !== null);
  assert.deepEqual(finishes, ['length'], 'the running stream completes normally');
  const tgiText = await tgiStream.rest;
  assert.match(tgiText, /"generated_text":"/);
  const result = await drained;
  assert.equal(result.numAborted, 0);
  await idle(s.engine, s.app);
});

test('drain past its deadline aborts what still runs; the stream ends cleanly', async (t) => {
  const s = await withServer(t);
  if (!s) return;
  const stream = await openStream(s.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'Once' }], max_tokens: 250, ignore_eos: true, stream: true }, 2);
  const result = await s.app.kvserve.drain(50);
  assert.equal(result.numAborted, 1);
  const text = await stream.rest;
  assert.match(text, /"finish_reason":"abort"/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  await idle(s.engine, s.app);
});

test('metrics: vLLM names with model_name and engine labels, counts that match the requests, one registry per app', async (t) => {
  const s = await withServer(t);
  if (!s) return;
  const second = buildApp(s.engine, { servedModelNames: ['other-name'], processMetrics: true, chatTemplate: STORY_TEMPLATE });
  t.after(() => second.close());
  const usages: Array<{ prompt_tokens: number; completion_tokens: number }> = [];
  for (let i = 0; i < 3; i++) {
    const res = await postJson(`${s.url}/v1/completions`, { prompt: STORY, max_tokens: 6 + i, temperature: 0, ignore_eos: true });
    usages.push(res.body.usage);
  }
  await postSseDone(s.url);
  const text = await metrics(s.app);
  // vLLM V1 labels every engine metric with model_name and engine.
  const L = { model_name: 'stories', engine: '0' };
  const promptTotal = usages.reduce((a, u) => a + u.prompt_tokens, 0) + (usages[0]?.prompt_tokens ?? 0);
  assert.equal(metricValue(text, 'vllm:prompt_tokens_total', L), promptTotal);
  assert.equal(metricValue(text, 'vllm:generation_tokens_total', L), 6 + 7 + 8 + 5);
  assert.equal(metricValue(text, 'vllm:request_success_total', { ...L, finished_reason: 'length' }), 4);
  assert.equal(metricValue(text, 'vllm:e2e_request_latency_seconds_count', L), 4);
  assert.equal(metricValue(text, 'vllm:time_to_first_token_seconds_count', L), 4);
  assert.equal(metricValue(text, 'vllm:request_queue_time_seconds_count', L), 4);
  assert.equal(metricValue(text, 'vllm:request_time_per_output_token_seconds_count', L), 4);
  // One gap per token after the first, streamed or not: 5 + 6 + 7 + 4.
  assert.equal(metricValue(text, 'vllm:inter_token_latency_seconds_count', L), 22);
  for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:num_preemptions_total',
    'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total']) {
    assert.notEqual(metricValue(text, name, L), null, name);
  }
  assert.ok((metricValue(text, 'vllm:prefix_cache_queries_total', L) ?? 0) > 0);
  assert.ok((metricValue(text, 'vllm:prefix_cache_hits_total', L) ?? 0) >= 16, 'the same long prompt four times hits the prefix cache');
  assert.match(text, /vllm:cache_config_info\{block_size="16",num_gpu_blocks="\d+",engine="0"\} 1/);
  assert.match(text, /^vllm:num_requests_running\{model_name="stories",engine="0"\} 0$/m);
  // The second app has its own registry: its request counters are still zero; it has process metrics.
  const other = (await second.inject({ method: 'GET', url: '/metrics' })).body;
  assert.equal(metricValue(other, 'vllm:request_success_total', { model_name: 'other-name', finished_reason: 'length' }), 0);
  assert.notEqual(metricValue(other, 'nodejs_eventloop_lag_seconds'), null);
  assert.notEqual(metricValue(other, 'process_cpu_user_seconds_total'), null);
  assert.equal(metricValue(text, 'nodejs_eventloop_lag_seconds'), null, 'process metrics were off for the first app');
});

async function postSseDone(url: string): Promise<void> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: STORY, max_tokens: 5, temperature: 0, ignore_eos: true, stream: true }),
  });
  assert.ok(response.body);
  for await (const data of sseData(response.body)) if (data === '[DONE]') break;
}
