// `kvserve serve` as a process: start-up logs (address, KV capacity), a start-up error naming both
// numbers when the KV cache cannot hold --max-model-len, and SIGTERM draining to exit code 0 while a
// stream in flight completes; with no model, the built-in demo model served as the README's first run
// shows, with a plain notice that its output is meaningless.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sseData } from '../../lib/bench/serve-request.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { startServe as start } from '../helpers/serve-process.js';
import { tmpDir } from '../helpers/tmp-dir.js';

test('serve: logs address and KV capacity; SIGTERM drains an in-flight stream and exits 0', async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  const server = start([model, '--port', '0', '--max-model-len', '256', '--kv-cache-memory', '1MiB', '--threads', '1',
    '--served-model-name', 'stories', '--shutdown-timeout', '30s']);
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  const kv = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('KV cache:'));
  assert.equal(kv.maxModelLen, 256);
  assert.equal(kv.numTokens, (kv.numBlocks as number) * (kv.blockSize as number));
  assert.equal(kv.maxConcurrency, Number(((kv.numTokens as number) / 256).toFixed(2)));
  assert.match(kv.msg, /maximum concurrency for 256 tokens per request: \d+\.\d\dx/);
  const ready = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('serving'));
  const address = ready.address as string;
  assert.match(address, /^http:\/\/127\.0\.0\.1:\d+$/);

  const response = await fetch(`${address}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'stories', prompt: 'Once upon a time', max_tokens: 150, ignore_eos: true, stream: true }),
  });
  assert.equal(response.status, 200);
  assert.ok(response.body);
  const events = sseData(response.body)[Symbol.asyncIterator]();
  await events.next();
  server.child.kill('SIGTERM');
  await server.waitFor((l) => l.msg.startsWith('draining'));
  const during = await fetch(`${address}/v2/health/ready`);
  assert.equal(during.status, 503);
  const refused = await fetch(`${address}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' }) });
  assert.equal(refused.status, 503);
  let last = '';
  let text = '';
  for (let r = await events.next(); !r.done; r = await events.next()) {
    last = r.value;
    if (r.value !== '[DONE]') text += (JSON.parse(r.value) as { choices: Array<{ text: string }> }).choices[0]?.text ?? '';
  }
  assert.equal(last, '[DONE]');
  assert.ok(text.length > 0);
  assert.equal(await server.exit, 0);
  const drained = server.logs.find((l) => l.msg === 'drained');
  assert.equal(drained?.aborted, 0);
});

test('serve: a --max-model-len the KV cache cannot hold is a start-up error naming both numbers', async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  const server = start([model, '--port', '0', '--max-model-len', '512', '--kv-cache-memory', '64KiB', '--threads', '1']);
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  assert.equal(await server.exit, 1);
  assert.match(server.stderr(), /--max-model-len 512 does not fit in the KV cache, which holds \d+ tokens/);
  assert.match(server.stderr(), /raise --kv-cache-memory or lower --max-model-len/);
});

test('serve: bad flags fail fast with the flag named', async () => {
  const server = start(['model.gguf', '--port', 'eighty']);
  assert.equal(await server.exit, 1);
  assert.match(server.stderr(), /--port: expected an integer in \[0, 65535\], got "eighty"/);
});

test('serve with no model: the demo model, a plain notice that its output is meaningless, the README first-run request answers', async (t) => {
  const server = start(['--port', '0', '--threads', '1'], { KVSERVE_CACHE_DIR: tmpDir(t) });
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  const ready = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('serving'));
  assert.equal(ready.model, 'kvserve-demo');
  // Plain text on stderr, not only inside a JSON log record.
  const notice = server.stderr();
  assert.match(notice, /^kvserve: no model given: using the built-in demo model kvserve-demo \(.*kvserve-demo\.gguf\)\.$/m);
  assert.match(notice, /^kvserve: Its weights are synthetic random numbers: its output is MEANINGLESS text\./m);
  assert.match(notice, /^kvserve: +kvserve serve Qwen\/Qwen2\.5-0\.5B-Instruct-GGUF:Q8_0 /m);
  assert.match(notice, /^kvserve: +kvserve serve \.\/model\.gguf /m);
  assert.ok(server.logs.some((l) => l.demoModel === true && /MEANINGLESS/.test(l.msg)));

  // README.md, First run: the chat request, verbatim.
  const response = await fetch(`${ready.address as string}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'kvserve-demo', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 }),
  });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  const reply = JSON.parse(body) as { model: string; choices: Array<{ message: { role: string; content: string } }> };
  assert.equal(reply.model, 'kvserve-demo');
  assert.equal(reply.choices[0]?.message.role, 'assistant');
  assert.ok((reply.choices[0]?.message.content ?? '').trim().length > 0, body);

  server.child.kill('SIGTERM');
  assert.equal(await server.exit, 0);
});
