// The built-in demo model: generated on first use (byte-identical every time), reused afterwards,
// safe under concurrent first runs, loads through the normal GGUF path, generates deterministic
// printable words, chats through its ChatML template; the CLI runs it when no model is named and
// says plainly that its output is meaningless.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../lib/engine/engine.js';
import { DEMO_MODEL_VERSION, demoModelPath, ensureDemoModel } from '../../lib/model/demo/demo-model.js';
import { DEMO_CHAT_TEMPLATE } from '../../lib/model/demo/demo-vocab.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp-dir.js';

// Changing the generator changes this digest: then bump DEMO_MODEL_VERSION too, so that caches
// holding the old file are not reused.
const DEMO_SHA256 = '9e47a8f9b2195c1a310ec601185ca75a5972fa4a5d403d58da801bd300fa820b';

async function collect(stream: AsyncIterable<{ type: string; text?: string; finishReason?: string }>): Promise<{ text: string; finishReason: string }> {
  let text = '';
  let finishReason = '';
  for await (const ev of stream) {
    if (ev.type === 'delta') text += ev.text;
    else finishReason = ev.finishReason ?? '';
  }
  return { text, finishReason };
}

test('the demo model is generated once, byte-identical (pinned digest), then reused', async (t) => {
  const cache = tmpDir(t);
  const first = await ensureDemoModel(cache);
  assert.deepEqual(first, { path: demoModelPath(cache), created: true });
  assert.equal(first.path, join(cache, 'demo', `v${DEMO_MODEL_VERSION}`, 'kvserve-demo.gguf'));
  assert.equal(createHash('sha256').update(readFileSync(first.path)).digest('hex'), DEMO_SHA256);
  const mtime = statSync(first.path).mtimeMs;
  assert.deepEqual(await ensureDemoModel(cache), { path: first.path, created: false });
  assert.equal(statSync(first.path).mtimeMs, mtime);
  assert.deepEqual(readdirSync(join(cache, 'demo', `v${DEMO_MODEL_VERSION}`)), ['kvserve-demo.gguf']);
});

test('the demo model generates the same words twice, only printable words, and chats with its template', async (t) => {
  const { path } = await ensureDemoModel(tmpDir(t));
  const engine = await Engine.create({ model: path, threads: 2, maxNumSeqs: 4 });
  try {
    assert.equal(engine.spec.config.architecture, 'llama');
    assert.equal(engine.tokenizer.chatTemplate, DEMO_CHAT_TEMPLATE);
    const greedy = await collect(engine.generate('Hello', { temperature: 0, maxTokens: 24 }));
    assert.equal((await collect(engine.generate('Hello', { temperature: 0, maxTokens: 24 }))).text, greedy.text);
    assert.ok(greedy.text.trim().split(' ').length >= 6, greedy.text);
    const seeded = await collect(engine.generate('Hello', { temperature: 1, seed: 7, maxTokens: 24 }));
    assert.equal((await collect(engine.generate('Hello', { temperature: 1, seed: 7, maxTokens: 24 }))).text, seeded.text);
    // Bytes, word fragments and control tokens are never emitted, even sampled hot.
    for (let seed = 0; seed < 3; seed++) {
      const { text } = await collect(engine.generate('Tell me a story', { temperature: 2, seed, maxTokens: 32 }));
      assert.match(text, /^(?: [A-Za-z]+|[.,!?])*$/, text);
    }
    const messages = [{ role: 'user', content: 'Hi there! ¿Qué tal? 🙂' }];
    const prompt = engine.tokenizer.applyChatTemplate(messages);
    assert.equal(prompt, '<|im_start|>user\nHi there! ¿Qué tal? 🙂<|im_end|>\n<|im_start|>assistant\n');
    const ids = await engine.tokenizer.encode(prompt, { addSpecialTokens: false });
    assert.equal(engine.tokenizer.tokenText(ids[0] as number), '<|im_start|>');
    assert.equal(engine.tokenizer.decode(ids, { skipSpecialTokens: false }), prompt, 'byte-level: any text round-trips');
    const reply = await collect(engine.chat(messages, { temperature: 0, maxTokens: 16 }));
    assert.ok(reply.text.trim().length > 0, 'a non-empty reply');
    assert.ok(['stop', 'length'].includes(reply.finishReason));
  } finally {
    await engine.close();
  }
});

test('with no model, kvserve generate runs the demo model, says its output is meaningless, and concurrent first runs agree', async (t) => {
  const cache = tmpDir(t);
  const args = ['generate', '--prompt', 'Hello', '--max-tokens', '12'];
  const runs = await Promise.all([0, 1, 2].map(() => runCli(args, { KVSERVE_CACHE_DIR: cache })));
  for (const run of runs) {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, runs[0]?.stdout);
    assert.match(run.stderr, /no model given: using the built-in demo model kvserve-demo/);
    assert.match(run.stderr, /output is MEANINGLESS text/);
    assert.match(run.stderr, /kvserve generate Qwen\/Qwen2\.5-0\.5B-Instruct-GGUF:Q8_0 --prompt "Hello"/);
  }
  assert.match(runs[0]?.stdout ?? '', /^Hello( [A-Za-z]+|[.,!?])+\n$/);
  // One file, no temporary leftovers, and the same bytes as any other first run.
  const dir = join(cache, 'demo', `v${DEMO_MODEL_VERSION}`);
  assert.deepEqual(readdirSync(dir), ['kvserve-demo.gguf']);
  assert.equal(createHash('sha256').update(readFileSync(join(dir, 'kvserve-demo.gguf'))).digest('hex'), DEMO_SHA256);
});
