// GGUF tokenizer behaviour beyond the llama.cpp goldens: argument checks, token lookups, and
// end-of-generation detection on a vocabulary written here.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GgufTokenizer } from '../../../lib/tokenizer/gguf-tokenizer.js';
import { encodeGguf, type GgufValue } from '../../helpers/gguf-writer.js';
import { MODELS, modelPath } from '../../helpers/models.js';

test('lookups, argument checks and unpaired surrogates (llama-spm)', async (t) => {
  const path = modelPath(t, MODELS.vocabLlamaSpm);
  if (path === null) return;
  const tok = await GgufTokenizer.fromFile(path);
  const hello = tok.encodeSync('Hello', { addSpecialTokens: false });
  assert.equal(tok.tokenText(hello[0] as number), '\u2581Hello');
  assert.equal(tok.decodeToken(hello[0] as number), ' Hello');
  assert.equal(tok.decodeToken(1), '<s>');
  assert.equal(tok.decodeToken(3 + 0x41), 'A'); // <0x41>
  assert.equal(tok.decodeToken(3 + 0xf0), '\uFFFD'); // a lone lead byte
  assert.deepEqual([0, 1, 2, 3, 100].map((id) => tok.isSpecial(id)), [true, true, true, false, false]);
  // Strings reach llama.cpp as UTF-8, where an unpaired surrogate becomes U+FFFD.
  assert.deepEqual(tok.encodeSync('a\uD800b\uDC00'), tok.encodeSync('a\uFFFDb\uFFFD'));
  assert.throws(() => tok.decode([32000]), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => tok.tokenText(-1), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => tok.encodeSync(42 as never), { code: 'ERR_INVALID_ARGUMENT' });
});

test('end-of-generation tokens are found by text, made control tokens, and parsed in input', async () => {
  // A ChatML-style byte-level vocabulary: <|im_end|> stored as a normal token, no eot key.
  const tokens = ['a', 'b', 'Ġ', 'Ġa', '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|fim_pad|>'];
  const kv: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: [1, 1, 1, 1, 3, 3, 1, 1] }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: ['Ġ a'] }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 4 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 4 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ];
  const path = join(mkdtempSync(join(tmpdir(), 'kvserve-gguf-tok-')), 'chatml.gguf');
  writeFileSync(path, encodeGguf(kv));
  const tok = await GgufTokenizer.fromFile(path);
  assert.equal(tok.kind, 'gguf-bpe');
  assert.equal(tok.vocab.eot, 6);
  assert.deepEqual(tok.eosTokenIds, [4, 6, 7]);
  assert.equal(tok.isSpecial(6), true);
  assert.equal(tok.addBosToken, false);
  const ids = tok.encodeSync('<|im_start|>a a<|im_end|>');
  assert.deepEqual(ids, [5, 0, 3, 6]);
  assert.equal(tok.decode(ids), 'a a');
  assert.equal(tok.decode(ids, { skipSpecialTokens: false }), '<|im_start|>a a<|im_end|>');
});
