// inject() tests: every route's validation errors in its protocol's shape, 404s, 413, bad JSON,
// API-key protection (deny by default) and CORS. Real engine behind the app.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../lib/server/app.js';
import { SERVED_NAME, STORY_TEMPLATE, servedModel } from '../helpers/serving.js';

const serve = servedModel();
const M = SERVED_NAME;

type Case = [method: 'GET' | 'POST', url: string, body: unknown, status: number, message: RegExp];

async function check(app: FastifyInstance, cases: Case[], shape: (body: any) => string) {
  for (const [method, url, payload, status, message] of cases) {
    const res = await app.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}) });
    const what = `${method} ${url} ${JSON.stringify(payload)} -> ${res.statusCode} ${res.body}`;
    assert.equal(res.statusCode, status, what);
    assert.match(shape(res.json()), message, what);
  }
}

test('OpenAI routes: 400/404 in {error:{message,type,param,code}}', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const chat = (extra: object) => ({ model: M, messages: [{ role: 'user', content: 'hi' }], ...extra });
  const cases: Case[] = [
    ['POST', '/v1/completions', {}, 400, /^prompt: required field is missing$/],
    ['POST', '/v1/completions', { prompt: 5 }, 400, /^prompt: expected a string, an array of strings, an array of token ids or an array of arrays of token ids, got 5$/],
    ['POST', '/v1/completions', { prompt: 'x', temperature: 'hot' }, 400, /^temperature: expected a number or null, got "hot"$/],
    ['POST', '/v1/completions', { prompt: 'x', top_p: 0 }, 400, /^top_p: expected a number > 0, got 0$/],
    ['POST', '/v1/completions', { prompt: 'x', n: 0 }, 400, /^n: expected a number >= 1, got 0$/],
    ['POST', '/v1/completions', { prompt: 'x', max_tokens: 0 }, 400, /^max_tokens: expected a number >= 1, got 0$/],
    ['POST', '/v1/completions', { prompt: 'x', logprobs: 21 }, 400, /^logprobs: expected a number <= 20, got 21$/],
    ['POST', '/v1/completions', { prompt: 'x', presence_penalty: 3 }, 400, /^presence_penalty: expected a number <= 2, got 3$/],
    ['POST', '/v1/completions', { prompt: 'x', logit_bias: { 1: 500 } }, 400, /^logit_bias\[1\]: expected a number <= 100, got 500$/],
    ['POST', '/v1/completions', { prompt: 'x', logit_bias: { x: 1 } }, 400, /^logit_bias: expected token ids/],
    ['POST', '/v1/completions', { prompt: 'x', stop_token_ids: [99999] }, 400, /^stop_token_ids: expected token ids below the vocabulary size/],
    ['POST', '/v1/completions', { prompt: 'x', min_tokens: 50, max_tokens: 10 }, 400, /^min_tokens: expected an integer in \[0, maxTokens = 10\], got 50$/],
    ['POST', '/v1/completions', { prompt: 'x', stream_options: { include_usage: true } }, 400, /stream_options: can only be set when stream is true/],
    ['POST', '/v1/completions', { prompt: 'x', suffix: 'y' }, 400, /^suffix: suffix is not supported$/],
    ['POST', '/v1/completions', { prompt: 'x', use_beam_search: true }, 400, /beam search is not supported/],
    ['POST', '/v1/completions', { prompt: 'x', response_format: { type: 'json_object' } }, 400, /response_format\.type: expected "text"/],
    ['POST', '/v1/completions', { prompt: [99999] }, 400, /^prompt: expected token ids below the vocabulary size \d+, got 99999$/],
    ['POST', '/v1/completions', { prompt: 'x'.repeat(2000), max_tokens: 1 }, 400, /maximum context length is 256 tokens\. However, your request has \d+ input tokens/],
    ['POST', '/v1/completions', { model: 'other', prompt: 'x' }, 404, /^The model `other` does not exist\.$/],
    ['POST', '/v1/chat/completions', { model: M }, 400, /^messages: required field is missing$/],
    ['POST', '/v1/chat/completions', { messages: [] }, 400, /^messages: expected at least 1 item, got \[\]$/],
    ['POST', '/v1/chat/completions', { messages: [{ content: 'hi' }] }, 400, /^messages\[0\]\.role: required field is missing$/],
    ['POST', '/v1/chat/completions', chat({ top_logprobs: 2 }), 400, /^top_logprobs: requires logprobs to be true$/],
    ['POST', '/v1/chat/completions', chat({ logprobs: true, top_logprobs: 30 }), 400, /^top_logprobs: expected a number <= 20, got 30$/],
    ['POST', '/v1/chat/completions', chat({ tools: [{ type: 'function' }] }), 400, /^tools: tool calling is not supported$/],
    ['POST', '/v1/chat/completions', { messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 400, /^messages\[0\]\.content\[0\]: expected a text part/],
    ['POST', '/v1/chat/completions', chat({ max_completion_tokens: 1000 }), 400, /'max_tokens' or 'max_completion_tokens' is too large: 1000/],
    ['POST', '/v1/chat/completions', chat({ add_generation_prompt: true, continue_final_message: true }), 400, /continue_final_message: cannot be used together with add_generation_prompt/],
    ['POST', '/v1/chat/completions', { model: 'other', messages: [{ role: 'user', content: 'hi' }] }, 404, /does not exist/],
    ['POST', '/tokenize', {}, 400, /^prompt: required field is missing \(or give messages\)$/],
    ['POST', '/detokenize', { tokens: [1, 99999] }, 400, /^tokens\[1\]: expected a token id below the vocabulary size/],
    ['POST', '/detokenize', { tokens: 'abc' }, 400, /^tokens: expected an array, got "abc"$/],
    ['GET', '/v1/nothing', undefined, 404, /^Route GET:\/v1\/nothing not found$/],
  ];
  await check(s.app, cases, (body) => {
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    return body.error.message as string;
  });
  const res = await s.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: 'x', top_p: 0 } });
  assert.deepEqual(res.json(), { error: { message: 'top_p: expected a number > 0, got 0', type: 'invalid_request_error', param: 'top_p', code: null } });
});

test('TGI routes: 422 {error, error_type}; KServe: {error}', async (t) => {
  const s = await serve(t);
  if (!s) return;
  await check(s.app, [
    ['POST', '/generate', {}, 422, /^Input validation error: inputs: required field is missing$/],
    ['POST', '/generate', { inputs: 'x', parameters: { seed: -1 } }, 422, /^Input validation error: parameters\.seed: expected a number >= 0, got -1$/],
    ['POST', '/generate_stream', { inputs: 'x', parameters: { stop: 'x' } }, 422, /parameters\.stop: expected an array, got "x"/],
    ['POST', '/generate', { inputs: 'x', parameters: { typical_p: 0.5 } }, 422, /`typical_p` is not supported/],
    ['POST', '/generate', { inputs: 'x', parameters: { grammar: { type: 'json', value: {} } } }, 422, /`grammar`/],
  ], (body) => {
    assert.equal(body.error_type, 'validation');
    return body.error as string;
  });
  await check(s.app, [
    ['POST', `/v2/models/${M}/infer`, {}, 400, /^inputs: required field is missing$/],
    ['POST', `/v2/models/${M}/infer`, { inputs: [{ name: 'text_input', shape: [1], datatype: 'STRING', data: ['x'] }] }, 400, /^inputs\[0\]\.datatype: expected one of "BOOL"/],
    ['POST', `/v2/models/${M}/infer`, { inputs: [{ name: 'max_tokens', shape: [1], datatype: 'INT32', data: [4] }] }, 400, /the text_input tensor \(BYTES\) is missing/],
    ['POST', `/v2/models/${M}/infer`, { inputs: [{ name: 'text_input', shape: [1], datatype: 'BYTES', data: ['x'] }, { name: 'foo', shape: [1], datatype: 'INT32', data: [1] }] }, 400, /inputs\.foo: unknown parameter/],
    ['POST', `/v2/models/${M}/generate`, { text_input: 5 }, 400, /^text_input: expected a string, got 5$/],
    ['POST', `/v2/models/${M}/generate`, { text_input: 'x', sampling_parameters: 5 }, 400, /^sampling_parameters: expected a JSON string or an object, got 5$/],
    ['GET', '/v2/models/x/versions/1', undefined, 404, /^Request for unknown model: 'x' is not found$/],
  ], (body) => {
    assert.deepEqual(Object.keys(body), ['error']);
    return body.error as string;
  });
});

test('bodies: invalid JSON is 400, an over-limit body is 413, JSON is read whatever the content type', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const bad = await s.app.inject({ method: 'POST', url: '/v1/completions', headers: { 'content-type': 'application/json' }, payload: '{"prompt": ' });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error.message, /^body: expected valid JSON/);
  const small = buildApp(s.engine, { bodyLimit: 1024, processMetrics: false, chatTemplate: STORY_TEMPLATE });
  t.after(() => small.close());
  const big = await small.inject({ method: 'POST', url: '/generate', payload: { inputs: 'x'.repeat(2000) } });
  assert.equal(big.statusCode, 413);
  assert.deepEqual(big.json(), { error: 'Request body is larger than the limit of 1024 bytes', error_type: 'validation' });
  const bigOpenAi = await small.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: 'x'.repeat(2000) } });
  assert.equal(bigOpenAi.statusCode, 413);
  assert.match(bigOpenAi.json().error.message, /larger than the limit of 1024 bytes/);
  const plain = await s.app.inject({ method: 'POST', url: '/tokenize', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ prompt: 'hi' }) });
  assert.equal(plain.statusCode, 200);
  assert.deepEqual(plain.json().tokens, await s.engine.tokenizer.encode('hi'));
});

test('API key: deny by default, 401 in each protocol, probes and metrics stay open', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const app = buildApp(s.engine, { apiKey: 'sekret', processMetrics: false, chatTemplate: STORY_TEMPLATE, servedModelNames: [M] });
  t.after(() => app.close());
  for (const url of ['/health', '/metrics', '/v2/health/live', '/v2/health/ready', `/v2/models/${M}/ready`, `/v2/models/${M}/versions/1/ready`]) {
    assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
  }
  const closed: Array<['GET' | 'POST', string]> = [
    ['GET', '/v1/models'], ['POST', '/v1/completions'], ['POST', '/v1/chat/completions'], ['POST', '/tokenize'], ['POST', '/detokenize'],
    ['GET', '/version'], ['POST', '/generate'], ['POST', '/generate_stream'], ['GET', '/info'], ['POST', '/'], ['GET', '/v2'],
    ['GET', `/v2/models/${M}`], ['POST', `/v2/models/${M}/infer`], ['POST', `/v2/models/${M}/generate`], ['POST', `/v2/models/${M}/generate_stream`],
    ['GET', '/no/such/route'],
  ];
  for (const [method, url] of closed) {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Bearer sekret-and-more' }, { authorization: 'Basic sekret' }]) {
      const res = await app.inject({ method, url, headers, ...(method === 'POST' ? { payload: {} } : {}) });
      assert.equal(res.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  }
  const openai = await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer wrong' } });
  assert.deepEqual(openai.json(), { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
  assert.equal((await app.inject({ method: 'POST', url: '/generate', payload: {} })).json().error_type, 'unauthorized');
  assert.deepEqual(Object.keys((await app.inject({ method: 'GET', url: '/v2' })).json()), ['error']);
  // With the key, each family answers.
  for (const headers of [{ authorization: 'Bearer sekret' }, { 'x-api-key': 'sekret' }]) {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/models', headers })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/info', headers })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v2', headers })).statusCode, 200);
  }
});

test('CORS: only the allowed origins, preflight answered before the key check', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const app = buildApp(s.engine, { apiKey: 'k', allowedOrigins: ['http://ui.example'], processMetrics: false, chatTemplate: STORY_TEMPLATE });
  t.after(() => app.close());
  const preflight = await app.inject({
    method: 'OPTIONS', url: '/v1/chat/completions',
    headers: { origin: 'http://ui.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(preflight.statusCode, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'http://ui.example');
  assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
  const allowed = await app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'http://ui.example', authorization: 'Bearer k' } });
  assert.equal(allowed.headers['access-control-allow-origin'], 'http://ui.example');
  const other = await app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'http://evil.example', authorization: 'Bearer k' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  const noCors = await s.app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'http://ui.example' } });
  assert.equal(noCors.headers['access-control-allow-origin'], undefined, 'no origins are allowed by default');
});

test('request ids: X-Request-Id is echoed and used for response ids', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const res = await s.app.inject({ method: 'POST', url: '/v1/completions', headers: { 'x-request-id': 'abc-123' }, payload: { prompt: 'Once', max_tokens: 2 } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-request-id'], 'abc-123');
  assert.equal(res.json().id, 'cmpl-abc-123');
  const tok = await s.app.inject({ method: 'POST', url: '/tokenize', payload: { prompt: 'Once upon', return_token_strs: true } });
  assert.equal(tok.json().count, tok.json().tokens.length);
  assert.equal(tok.json().max_model_len, 256);
  assert.equal(tok.json().token_strs.length, tok.json().count);
  const detok = await s.app.inject({ method: 'POST', url: '/detokenize', payload: { tokens: tok.json().tokens } });
  assert.equal(detok.json().prompt, s.engine.tokenizer.decode(tok.json().tokens));
  const version = await s.app.inject({ method: 'GET', url: '/version' });
  assert.match(version.json().version, /^\d+\.\d+\.\d+/);
});
