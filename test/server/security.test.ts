// Security on the real server: with an API key, every registered route (fastify's own list, HEAD twins
// included) answers 401 without the key, or with a wrong one, except health, readiness and metrics;
// no HTTP input names a file the server opens (model names are compared with the served names,
// never used as paths: every file-system open during path-like requests is recorded, and there are
// none); the CLI listens on 127.0.0.1 unless told otherwise; and logs carry no prompt unless
// --enable-log-requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { parseServeArgs } from '../../lib/cli/serve-flags.js';
import { setLogger } from '../../lib/log.js';
import { PUBLIC_ROUTES } from '../../lib/server/auth.js';
import { protocolOf } from '../../lib/server/error-render.js';
import { concretePath } from '../helpers/http-fuzz-cases.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { startServe } from '../helpers/serve-process.js';
import { postJson, servedModel } from '../helpers/serving.js';
import { runWellFormed, wellFormedRequests } from '../helpers/well-formed.js';

const KEY = 'sk-test-0123456789';
const keyed = servedModel({ kvCacheDtype: 'f32' }, { apiKey: KEY });

test('API key: every registered route but health, readiness and metrics answers 401 without the key', async (t) => {
  const s = await keyed(t);
  if (!s) return;
  const routes = s.app.kvserve.routes;
  const methods = new Set(routes.map((r) => r.method));
  assert.ok(methods.has('GET') && methods.has('POST') && methods.has('HEAD'), [...methods].join(','));
  for (const documented of ['/v1/completions', '/v1/chat/completions', '/v1/models', '/tokenize', '/detokenize', '/health', '/version', '/metrics',
    '/generate', '/generate_stream', '/', '/info', '/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/:model', '/v2/models/:model/ready',
    '/v2/models/:model/infer', '/v2/models/:model/generate', '/v2/models/:model/generate_stream', '/v2/models/:model/versions/:version/generate']) {
    assert.ok(routes.some((r) => r.url === documented), `route list lacks ${documented}`);
  }
  let numProtected = 0;
  for (const route of routes) {
    const path = concretePath(route.url);
    const isPublic = PUBLIC_ROUTES.has(route.url) && (route.method === 'GET' || route.method === 'HEAD');
    const body = route.method === 'POST' ? '{}' : undefined;
    const headers = body ? { 'content-type': 'application/json' } : undefined;
    for (const auth of [undefined, 'Bearer wrong-key', 'Basic c2stdGVzdA==', `Bearer ${KEY}x`, KEY]) {
      const res = await fetch(`${s.url}${path}`, { method: route.method, ...(body ? { body } : {}), headers: { ...headers, ...(auth ? { authorization: auth } : {}) } });
      const text = await res.text();
      if (isPublic) {
        assert.notEqual(res.status, 401, `${route.method} ${route.url} is public`);
        continue;
      }
      assert.equal(res.status, 401, `${route.method} ${route.url} with ${auth ?? 'no key'}: ${text.slice(0, 100)}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      if (route.method !== 'HEAD') {
        const json = JSON.parse(text);
        const protocol = protocolOf(path);
        if (protocol === 'openai') assert.equal(json.error.code, 'invalid_api_key');
        else if (protocol === 'tgi') assert.equal(json.error_type, 'unauthorized');
        else assert.equal(typeof json.error, 'string');
      }
    }
    if (!isPublic) {
      numProtected++;
      const res = await fetch(`${s.url}${path}`, { method: route.method, ...(body ? { body } : {}), headers: { ...headers, authorization: `Bearer ${KEY}` } });
      assert.notEqual(res.status, 401, `${route.method} ${route.url} with the key`);
      await res.arrayBuffer();
    }
  }
  assert.ok(numProtected >= 25, `${numProtected} protected routes`);
  // Unknown routes are denied too (deny by default), and the key also works as x-api-key.
  assert.equal((await fetch(`${s.url}/v1/secret`)).status, 401);
  assert.equal((await postJson(`${s.url}/v1/completions`, { prompt: 'x', max_tokens: 1 }, { 'x-api-key': KEY })).status, 200);
});

test('kvserve serve --api-key: the same walk over the real process (every route 401 without the key but the public probes)', { timeout: 120_000 }, async (t) => {
  const s = await keyed(t);
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!s || model === null) return;
  const server = startServe([model, '--port', '0', '--max-model-len', '128', '--kv-cache-memory', '1MiB', '--threads', '1', '--served-model-name', 'stories', '--api-key', KEY]);
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  const ready = await server.waitFor((l) => l.msg.startsWith('serving'));
  assert.equal(ready.apiKey, true);
  const url = ready.address as string;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  // The route list of an app built the same way (the process serves the same buildApp).
  let numProtected = 0;
  for (const route of s.app.kvserve.routes) {
    const path = concretePath(route.url);
    const isPublic = PUBLIC_ROUTES.has(route.url) && (route.method === 'GET' || route.method === 'HEAD');
    const body = route.method === 'POST' ? '{}' : undefined;
    const headers = body ? { 'content-type': 'application/json' } : undefined;
    const without = await fetch(`${url}${path}`, { method: route.method, ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
    await without.arrayBuffer();
    if (isPublic) {
      assert.notEqual(without.status, 401, `${route.method} ${route.url} is public`);
      continue;
    }
    numProtected++;
    assert.equal(without.status, 401, `${route.method} ${route.url} without the key`);
    const wrong = await fetch(`${url}${path}`, { method: route.method, ...(body ? { body } : {}), headers: { ...headers, authorization: 'Bearer wrong' } });
    await wrong.arrayBuffer();
    assert.equal(wrong.status, 401, `${route.method} ${route.url} with a wrong key`);
    const withKey = await fetch(`${url}${path}`, { method: route.method, ...(body ? { body } : {}), headers: { ...headers, authorization: `Bearer ${KEY}` } });
    await withKey.arrayBuffer();
    assert.notEqual(withKey.status, 401, `${route.method} ${route.url} with the key`);
  }
  assert.ok(numProtected >= 25, `${numProtected} protected routes`);
  assert.equal((await fetch(`${url}/v1/secret`)).status, 401);
  const ok = await postJson(`${url}/v1/completions`, { model: 'stories', prompt: 'Once upon a time', max_tokens: 4 }, { authorization: `Bearer ${KEY}` });
  assert.equal(ok.status, 200);
  // The key never reaches the logs.
  assert.ok(!server.logs.some((l) => JSON.stringify(l).includes(KEY)) && !server.stderr().includes(KEY), 'the API key appears in the logs');
  server.child.kill('SIGTERM');
  assert.equal(await server.exit, 0);
});

const plain = servedModel({ kvCacheDtype: 'f32' });

test('model names and other request fields are never opened as files', async (t) => {
  const s = await plain(t);
  if (!s) return;
  const opened: string[] = [];
  const names = ['openSync', 'open', 'readFileSync', 'readFile', 'statSync', 'stat', 'lstatSync', 'existsSync', 'createReadStream', 'readdirSync', 'accessSync'] as const;
  const fsAny = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const promisesAny = fs.promises as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  for (const name of names) {
    const original = fsAny[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    fsAny[name] = function (this: unknown, ...args: unknown[]) {
      opened.push(`${name}(${String(args[0])})`);
      return original.apply(this, args);
    };
  }
  const promiseOriginals = new Map<string, (...args: unknown[]) => unknown>();
  for (const name of ['open', 'readFile', 'stat', 'access', 'readdir']) {
    const original = promisesAny[name] as (...args: unknown[]) => unknown;
    promiseOriginals.set(name, original);
    promisesAny[name] = function (this: unknown, ...args: unknown[]) {
      opened.push(`promises.${name}(${String(args[0])})`);
      return original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
  t.after(() => {
    for (const [name, f] of originals) fsAny[name] = f;
    for (const [name, f] of promiseOriginals) promisesAny[name] = f;
    syncBuiltinESMExports();
  });
  // The recorder works: a read through the named ESM export is seen.
  const { readFileSync } = await import('node:fs');
  readFileSync('/proc/self/stat');
  assert.ok(opened.some((o) => o.includes('/proc/self/stat')));
  opened.length = 0;

  const PATHS = ['../../../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', '..\\..\\windows\\win.ini', '~/.ssh/id_rsa', '/dev/zero', '/proc/self/environ', '.', '..'];
  for (const name of PATHS) {
    for (const [path, body] of [
      ['/v1/completions', { model: name, prompt: 'x', max_tokens: 1 }],
      ['/v1/chat/completions', { model: name, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }],
      ['/tokenize', { model: name, prompt: 'x' }],
      ['/detokenize', { model: name, tokens: [1] }],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], chat_template: name }],
      ['/generate', { inputs: 'x', parameters: { adapter_id: name } }],
      ['/v2/models/stories/generate', { text_input: 'x', parameters: { lora_name: name } }],
    ] as const) {
      const res = await postJson(`${s.url}${path}`, body);
      assert.ok(res.status === 404 || res.status === 400 || res.status === 422, `${path} model=${name}: ${res.status}`);
    }
    for (const suffix of ['', '/ready', '/generate', '/infer', '/versions/1/generate_stream']) {
      const res = await fetch(`${s.url}/v2/models/${encodeURIComponent(name)}${suffix}`, { method: suffix === '' || suffix === '/ready' ? 'GET' : 'POST', ...(suffix === '' || suffix === '/ready' ? {} : { body: '{"text_input":"x"}', headers: { 'content-type': 'application/json' } }) });
      assert.ok(res.status === 404 || res.status === 400, `/v2/models/${name}${suffix}: ${res.status}`);
      await res.arrayBuffer();
    }
  }
  // Serving itself opens nothing either.
  await postJson(`${s.url}/v1/completions`, { model: 'stories', prompt: 'Once', max_tokens: 3 });
  assert.deepEqual(opened, [], 'file-system calls while serving requests');
});

test('the CLI listens on 127.0.0.1 unless --host says otherwise', () => {
  const c = parseServeArgs(['model.gguf'], {});
  assert.ok(c !== 'help');
  assert.equal(c.host, '127.0.0.1');
  const withEnv = parseServeArgs(['model.gguf'], { HOST: '0.0.0.0', KVSERVE_HOST: '0.0.0.0' });
  assert.ok(withEnv !== 'help');
  assert.equal(withEnv.host, '127.0.0.1');
  assert.equal(c.logRequests, false);
});

function captureLogs(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { lines, logger: pino({ level: 'trace' }, stream) as unknown as Logger };
}

const quietLogs = captureLogs();
const quiet = servedModel({ kvCacheDtype: 'f32' }, { logger: quietLogs.logger });
const loudLogs = captureLogs();
const loud = servedModel({ kvCacheDtype: 'f32' }, { logger: loudLogs.logger, logRequests: true });

test('logs carry no prompt (at trace level, errors included) unless --enable-log-requests', async (t) => {
  const s = await quiet(t);
  if (!s) return;
  setLogger(quietLogs.logger);
  const secret = `XYZZY${Math.random().toString(36).slice(2)}PLUGH`;
  for (const r of wellFormedRequests([`${secret} once upon a time`], 4)) await runWellFormed(s.url, r);
  // Failing requests too: validation errors, a 404 model, a stream the client drops.
  await postJson(`${s.url}/v1/completions`, { prompt: secret, max_tokens: -1 });
  await postJson(`${s.url}/v1/completions`, { model: secret, prompt: secret });
  await postJson(`${s.url}/generate`, { inputs: secret, parameters: { max_new_tokens: 100000 } });
  await postJson(`${s.url}/v2/models/stories/generate`, { text_input: secret, parameters: { bogus: secret } });
  const controller = new AbortController();
  const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: secret, max_tokens: 200, stream: true }), signal: controller.signal });
  await res.body?.getReader().read();
  controller.abort();
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(quietLogs.lines.length > 10, 'requests were logged');
  assert.deepEqual(quietLogs.lines.filter((l) => l.includes(secret) || l.includes('XYZZY')), []);

  const l = await loud(t);
  if (!l) return;
  await runWellFormed(l.url, wellFormedRequests([`${secret} again`], 2)[0]!);
  assert.ok(loudLogs.lines.some((line) => line.includes(secret) && line.includes('received request')), 'with logRequests the prompt is logged');
});
