// Limits, on the real engine through HTTP: a KV cache too small for the load queues and preempts but
// never fails a request (every output equals its reference); a full waiting queue answers every
// generation route at once, 503 with Retry-After (429 on TGI routes) in the route's error shape;
// request bodies over the limit get 413 and request heads over the limit 431, in each protocol; and
// no request generates past the model length (max_tokens refused or clipped, per protocol).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { protocolOf } from '../../lib/server/error-render.js';
import { httpBytes, rawRequest } from '../helpers/raw-http.js';
import { eventually, postJson, servedModel } from '../helpers/serving.js';
import { runWellFormed, wellFormedRequests } from '../helpers/well-formed.js';

function assertErrorShape(path: string, status: number, body: any): void {
  const protocol = protocolOf(path);
  if (protocol === 'openai') assert.equal(typeof body.error?.message, 'string', `${path}: ${JSON.stringify(body)}`);
  else if (protocol === 'tgi') assert.ok(typeof body.error === 'string' && typeof body.error_type === 'string', `${path}: ${JSON.stringify(body)}`);
  else assert.ok(typeof body.error === 'string' && Object.keys(body).length === 1, `${path}: ${JSON.stringify(body)}`);
  assert.ok(status >= 400 && status < 500, `${path}: status ${status}`);
}

const tinyKv = servedModel({ kvCacheDtype: 'f32', maxModelLen: 128, kvCacheMemory: 160 * 1280, maxNumSeqs: 16 });

test('KV exhaustion: requests needing far more KV than there is queue and get preempted, and all complete exactly', { timeout: 120_000 }, async (t) => {
  const s = await tinyKv(t);
  if (!s) return;
  const requests = wellFormedRequests(['Once upon a time', 'The little dog', 'Lily and Ben went to the park'], 60).filter((r) => !r.trickle);
  const reference = new Map<string, string>();
  for (const r of requests) reference.set(r.name, await runWellFormed(s.url, r));
  const before = s.engine.stats().numPreemptions;
  // Three rounds of all of them at once: ~21 streams x up to 70 tokens against 160 tokens of KV.
  const all = [...requests, ...requests, ...requests];
  const texts = await Promise.all(all.map((r) => runWellFormed(s.url, r)));
  texts.forEach((text, i) => assert.equal(text, reference.get(all[i]!.name), all[i]!.name));
  assert.ok(s.engine.stats().numPreemptions > before, 'the load preempted requests');
  await eventually(() => s.engine.stats().kvBlocksUsed === 0 && s.engine.stats().numRunning === 0, 'the KV cache to be empty');
});

const queued = servedModel({ kvCacheDtype: 'f32', maxNumSeqs: 1, maxNumQueuedRequests: 1 });

function openStream(url: string, path: string, body: unknown): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      res.once('data', () => resolve(() => req.destroy()));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a full queue answers every generation route 503 with Retry-After (429 on TGI), in its protocol', { timeout: 60_000 }, async (t) => {
  const s = await queued(t);
  if (!s) return;
  const stop = await openStream(s.url, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 200, ignore_eos: true, temperature: 0, stream: true });
  const waiting = postJson(`${s.url}/v1/completions`, { prompt: 'Once', max_tokens: 3 });
  await eventually(() => s.engine.stats().numWaiting === 1, 'a request waiting');
  const routes: Array<[string, unknown]> = [
    ['/v1/completions', { prompt: 'x', max_tokens: 2 }],
    ['/v1/completions', { prompt: 'x', max_tokens: 2, stream: true }],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 2, stream: true }],
    ['/generate', { inputs: 'x', parameters: { max_new_tokens: 2 } }],
    ['/generate_stream', { inputs: 'x', parameters: { max_new_tokens: 2 } }],
    ['/', { inputs: 'x', parameters: { max_new_tokens: 2 } }],
    ['/v2/models/stories/generate', { text_input: 'x', parameters: { max_tokens: 2 } }],
    ['/v2/models/stories/generate_stream', { text_input: 'x', parameters: { max_tokens: 2 } }],
    ['/v2/models/stories/versions/1/generate', { text_input: 'x' }],
    ['/v2/models/stories/infer', { inputs: [{ name: 'text_input', shape: [1], datatype: 'BYTES', data: ['x'] }] }],
  ];
  for (const [path, body] of routes) {
    const res = await postJson(`${s.url}${path}`, body);
    const tgi = protocolOf(path) === 'tgi';
    assert.equal(res.status, tgi ? 429 : 503, path);
    assert.equal(res.headers.get('retry-after'), '1', path);
    if (protocolOf(path) === 'openai') assert.equal(res.body.error.code, 'overloaded', path);
    else if (tgi) assert.deepEqual([typeof res.body.error, res.body.error_type], ['string', 'overloaded'], path);
    else assert.deepEqual(Object.keys(res.body), ['error'], path);
  }
  stop();
  assert.equal((await waiting).status, 200);
  await eventually(() => s.engine.stats().numRunning + s.engine.stats().numWaiting === 0, 'the engine to be idle');
});

const small = servedModel({ kvCacheDtype: 'f32', maxModelLen: 64 }, { bodyLimit: 4096, maxHeaderSize: 4096 });

test('body and header limits: 413 and 431 in each protocol, with or without Content-Length', async (t) => {
  const s = await small(t);
  if (!s) return;
  const port = Number(new URL(s.url).port);
  const big = JSON.stringify({ prompt: 'x'.repeat(5000), inputs: 'x', text_input: 'x' });
  for (const path of ['/v1/completions', '/v1/chat/completions', '/generate', '/v2/models/stories/generate', '/v2/models/stories/infer']) {
    const withLength = await rawRequest(port, httpBytes('POST', path, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) }, big));
    assert.equal(withLength.status, 413, `${path}: ${withLength.body}`);
    assertErrorShape(path, withLength.status, JSON.parse(withLength.body));
    // Chunked: the limit is enforced while reading.
    const chunked = Buffer.concat([
      httpBytes('POST', path, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }),
      Buffer.from(`${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`),
    ]);
    const res = await rawRequest(port, chunked);
    assert.equal(res.status, 413, `${path} (chunked): ${res.body}`);
    assertErrorShape(path, res.status, JSON.parse(res.body));
    const head = await rawRequest(port, httpBytes('POST', path, { 'content-type': 'application/json', 'x-padding': 'p'.repeat(5000), 'content-length': 2 }, '{}'));
    assert.equal(head.status, 431, `${path}: ${head.body}`);
    assertErrorShape(path, head.status, JSON.parse(head.body));
  }
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
});

test('max_tokens never takes a request past the model length (64 tokens): refused or clipped, per protocol', async (t) => {
  const s = await small(t);
  if (!s) return;
  const prompt = 'Once upon a time';
  const numPrompt = (await s.engine.tokenizer.encode(prompt)).length;
  // OpenAI (vLLM): an explicit max_tokens beyond the context is a 400 naming both numbers; exactly the
  // rest of the context is fine; chat without max_tokens gets the rest of the context.
  const refused = await postJson(`${s.url}/v1/completions`, { prompt, max_tokens: 1000 });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.code, 'context_length_exceeded');
  assert.match(refused.body.error.message, /1000.*64/);
  assert.equal((await postJson(`${s.url}/v1/completions`, { prompt, max_tokens: 64 - numPrompt + 1 })).status, 400);
  const exact = await postJson(`${s.url}/v1/completions`, { prompt, max_tokens: 64 - numPrompt, ignore_eos: true, temperature: 0 });
  assert.equal(exact.status, 200);
  assert.equal(exact.body.usage.prompt_tokens + exact.body.usage.completion_tokens, 64);
  assert.equal(exact.body.choices[0].finish_reason, 'length');
  const chat = await postJson(`${s.url}/v1/chat/completions`, { messages: [{ role: 'user', content: prompt }], max_tokens: 1000 });
  assert.equal(chat.status, 400);
  const chatRest = await postJson(`${s.url}/v1/chat/completions`, { messages: [{ role: 'user', content: prompt }], ignore_eos: true, temperature: 0 });
  assert.equal(chatRest.status, 200);
  assert.equal(chatRest.body.usage.prompt_tokens + chatRest.body.usage.completion_tokens, 64);
  // TGI: inputs + max_new_tokens must fit (422); without max_new_tokens, the rest of the context.
  const tgi = await postJson(`${s.url}/generate`, { inputs: prompt, parameters: { max_new_tokens: 1000 } });
  assert.equal(tgi.status, 422);
  assert.match(tgi.body.error, /must be <= 64/);
  const tgiRest = await postJson(`${s.url}/generate`, { inputs: prompt, parameters: { details: true } });
  assert.equal(tgiRest.status, 200);
  assert.ok(tgiRest.body.details.generated_tokens <= 64 - numPrompt);
  // KServe / Triton (vLLM backend): clipped to what the context leaves.
  const kserve = await postJson(`${s.url}/v2/models/stories/generate`, {
    text_input: prompt, parameters: { max_tokens: 1000, ignore_eos: true, temperature: 0, return_num_input_tokens: true, return_num_output_tokens: true, return_finish_reason: true },
  });
  assert.equal(kserve.status, 200, JSON.stringify(kserve.body));
  assert.equal(kserve.body.num_input_tokens + kserve.body.num_output_tokens, 64);
  assert.equal(kserve.body.finish_reason, 'length');
  // A prompt that fills the context is refused everywhere.
  const long = 'Once upon a time, there was a little girl. '.repeat(20);
  for (const [path, body] of [
    ['/v1/completions', { prompt: long }],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: long }] }],
    ['/generate', { inputs: long }],
    ['/v2/models/stories/generate', { text_input: long }],
  ] as const) {
    const res = await postJson(`${s.url}${path}`, body);
    assertErrorShape(path, res.status, res.body);
  }
});
