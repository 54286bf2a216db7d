import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeArgs } from '../../lib/cli/serve-flags.js';

test('serve flags: vLLM names map onto engine and server options', () => {
  const c = parseServeArgs([
    'model.gguf', '--host', '0.0.0.0', '--port', '9000', '--served-model-name', 'a,b', '--served-model-name', 'c',
    '--max-model-len', '256', '--max-num-seqs', '8', '--max-num-batched-tokens', '512', '--kv-cache-memory', '2GiB',
    '--kv-cache-dtype', 'bfloat16', '--block-size', '16', '--no-enable-prefix-caching', '--threads', '2',
    '--allowed-origins', '["http://x"]', '--max-num-queued-requests', '4', '--shutdown-timeout', '5s', '--max-request-body', '1MiB',
    '--max-decode-slowdown', '2', '--no-async-scheduling',
  ], {});
  assert.ok(c !== 'help');
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 9000);
  assert.deepEqual(c.servedModelNames, ['a', 'b', 'c']);
  assert.deepEqual(c.allowedOrigins, ['http://x']);
  assert.equal(c.shutdownTimeoutS, 5);
  assert.equal(c.bodyLimit, 1024 * 1024);
  assert.equal(c.apiKey, null);
  assert.deepEqual(c.engine, {
    model: 'model.gguf', maxModelLen: 256, maxNumSeqs: 8, maxNumBatchedTokens: 512, kvCacheMemory: 2 * 1024 ** 3,
    kvCacheDtype: 'bf16', blockSize: 16, enablePrefixCaching: false, threads: 2, maxNumQueuedRequests: 4, maxDecodeSlowdown: 2,
    asyncScheduling: false,
  });
});

test('serve flags: defaults, the API key from the environment, chat templates from files or inline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-flags-'));
  const file = join(dir, 'template.jinja');
  writeFileSync(file, '{% for m in messages %}{{ m.content }}{% endfor %}');
  const c = parseServeArgs(['--model', 'm', '--chat-template', file], { KVSERVE_API_KEY: 'secret' });
  assert.ok(c !== 'help');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8000);
  assert.equal(c.apiKey, 'secret');
  assert.equal(c.shutdownTimeoutS, 30);
  assert.equal(c.bodyLimit, 10 * 1024 * 1024);
  assert.equal(c.engine.chatTemplate, '{% for m in messages %}{{ m.content }}{% endfor %}');
  const inline = parseServeArgs(['m', '--chat-template', '{{ messages[0].content }}', '--api-key', 'k'], { KVSERVE_API_KEY: 'other' });
  assert.ok(inline !== 'help' && inline.engine.chatTemplate === '{{ messages[0].content }}' && inline.apiKey === 'k');
  assert.equal(parseServeArgs(['--help'], {}), 'help');
});

test('serve flags: errors name the flag, the expectation and the value', () => {
  assert.throws(() => parseServeArgs(['m', '--port', '99999'], {}), /--port: expected an integer in \[0, 65535\], got "99999"/);
  assert.throws(() => parseServeArgs(['m', '--kv-cache-memory', 'lots'], {}), /--kv-cache-memory: expected a size such as 2GiB/);
  assert.throws(() => parseServeArgs(['m', '--kv-cache-dtype', 'fp8'], {}), /--kv-cache-dtype: expected one of auto, f32, f16, bf16, got "fp8"/);
  assert.throws(() => parseServeArgs(['m', '--max-num-seqs', '0'], {}), /--max-num-seqs: expected an integer >= 1, got "0"/);
  // The engine rejects a queue bound of 0; the flag says so before any model is loaded.
  assert.throws(() => parseServeArgs(['m', '--max-num-queued-requests', '0'], {}), /--max-num-queued-requests: expected an integer >= 1, got "0"/);
  assert.throws(() => parseServeArgs(['m', '--max-num-queued-requests=-3'], {}), /--max-num-queued-requests: expected an integer >= 1, got "-3"/);
  const one = parseServeArgs(['m', '--max-num-queued-requests', '1'], {});
  assert.ok(one !== 'help' && one.engine.maxNumQueuedRequests === 1);
  assert.throws(() => parseServeArgs(['m', '--chat-template', '/no/such/file'], {}), /--chat-template: expected a template file that exists/);
  assert.throws(() => parseServeArgs(['m', '--enable-prefix-caching', '--no-enable-prefix-caching'], {}), /--enable-prefix-caching/);
  assert.throws(() => parseServeArgs(['m', '--async-scheduling', '--no-async-scheduling'], {}), /--async-scheduling/);
  assert.throws(() => parseServeArgs(['m', '--gpu-memory-utilization', '0.9'], {}), /gpu-memory-utilization/);
  assert.throws(() => parseServeArgs(['m', '--max-decode-slowdown', '0.5'], {}), /--max-decode-slowdown: expected a number >= 1, or 0 for no limit, got "0.5"/);
  const off = parseServeArgs(['m', '--max-decode-slowdown', '0'], {});
  assert.ok(off !== 'help' && off.engine.maxDecodeSlowdown === 0);
});

test('serve flags: no model means the built-in demo model; --revision is passed on', () => {
  const config = parseServeArgs(['--revision', 'v2'], {});
  assert.notEqual(config, 'help');
  if (config === 'help') return;
  assert.equal(config.engine.model, '');
  assert.equal(config.engine.revision, 'v2');
});
