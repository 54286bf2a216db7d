// Chat templates: the model's own (GGUF tokenizer.chat_template, written here), an explicit one, and
// the errors for a missing or failing template.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadTokenizer } from '../../../lib/tokenizer/index.js';
import { encodeGguf } from '../../helpers/gguf-writer.js';
import { MODELS, modelPath } from '../../helpers/models.js';

const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const LLAMA2 =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]" +
  "{% elif m.role == 'assistant' %} {{ m.content }}{{ eos_token }}{% else %}{{ raise_exception('unsupported role ' + m.role) }}{% endif %}{% endfor %}";

const messages = [
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'Tell me a story.' },
];

test('a model without a template: ERR_TOKENIZER_TEMPLATE pointing at --chat-template', async (t) => {
  const dir = modelPath(t, MODELS.tinystoriesHfDir);
  if (dir === null) return;
  const tok = await loadTokenizer(dir);
  assert.equal(tok.chatTemplate, null);
  assert.throws(() => tok.applyChatTemplate(messages), { code: 'ERR_TOKENIZER_TEMPLATE', message: /--chat-template/ });
});

test('an explicit template renders with the model bos/eos tokens', async (t) => {
  const dir = modelPath(t, MODELS.tinystoriesHfDir);
  if (dir === null) return;
  const tok = await loadTokenizer(dir);
  assert.equal(
    tok.applyChatTemplate(messages, { template: CHATML }),
    '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n',
  );
  assert.ok(!tok.applyChatTemplate(messages, { template: CHATML, addGenerationPrompt: false }).endsWith('assistant\n'));
  assert.equal(
    tok.applyChatTemplate(messages.slice(0, 2), { template: LLAMA2 }),
    '<|start_story|>[INST] Hi there [/INST] Hello!<|end_story|>',
  );
});

test('a GGUF with tokenizer.chat_template renders it, and the result tokenizes with BOS parsed', async () => {
  const tokens = ['<unk>', '<s>', '</s>', '\u2581', 'H', 'i', '[', 'I', 'N', 'S', 'T', ']', '/', '\u2581H', 'Hi'];
  const path = join(mkdtempSync(join(tmpdir(), 'kvserve-chat-')), 'chat.gguf');
  writeFileSync(
    path,
    encodeGguf([
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
      ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
      ['tokenizer.ggml.scores', { type: 'f32[]', value: tokens.map((_, i) => -i) }],
      ['tokenizer.ggml.token_type', { type: 'i32[]', value: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)) }],
      ['tokenizer.chat_template', { type: 'string', value: LLAMA2 }],
    ]),
  );
  const tok = await loadTokenizer(path);
  assert.equal(tok.kind, 'gguf-spm');
  assert.equal(tok.chatTemplate, LLAMA2);
  const prompt = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
  assert.equal(prompt, '<s>[INST] Hi [/INST]');
  const ids = await tok.encode(prompt, { addSpecialTokens: false });
  assert.equal(ids[0], 1);
  assert.equal(ids.filter((id) => id === 1).length, 1);
  // As llama.cpp: text after a special token gets the SPM space prefix, and the (skipped) BOS is the
  // first token, so no leading space is stripped when decoding.
  assert.equal(tok.tokenText(ids[1] as number), '\u2581');
  assert.equal(tok.decode(ids), ' [INST] Hi [/INST]');
});

test('render failures and bad messages are reported, not thrown raw', async (t) => {
  const dir = modelPath(t, MODELS.tinystoriesHfDir);
  if (dir === null) return;
  const tok = await loadTokenizer(dir);
  assert.throws(() => tok.applyChatTemplate([{ role: 'tool', content: 'x' }], { template: LLAMA2 }), {
    code: 'ERR_TOKENIZER_TEMPLATE',
    message: /unsupported role tool/,
  });
  assert.throws(() => tok.applyChatTemplate(messages, { template: '{% for %}' }), { code: 'ERR_TOKENIZER_TEMPLATE' });
  assert.throws(() => tok.applyChatTemplate([{ role: 'user' } as never], { template: CHATML }), { code: 'ERR_INVALID_ARGUMENT' });
});
