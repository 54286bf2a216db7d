// The tokenizer's GGUF metadata reader and vocabulary checks, on the shared files and on files
// written here (malformed ones included).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGgufTokenizerMetadata } from '../../../lib/tokenizer/gguf-vocab.js';
import { buildLlamaVocab } from '../../../lib/tokenizer/llama-vocab.js';
import { encodeGguf, type GgufValue } from '../../helpers/gguf-writer.js';
import { MODELS, modelPath } from '../../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'kvserve-gguf-vocab-'));
function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test('reads only tokenizer.* keys and general.architecture, with typed arrays', async (t) => {
  const path = modelPath(t, MODELS.vocabLlamaSpm);
  if (path === null) return;
  const meta = await readGgufTokenizerMetadata(path);
  assert.equal(meta.get('general.architecture'), 'llama');
  assert.equal(meta.get('tokenizer.ggml.model'), 'llama');
  assert.ok([...meta.keys()].every((k) => k.startsWith('tokenizer.') || k === 'general.architecture'));
  assert.equal(meta.has('llama.context_length'), false);
  const tokens = meta.get('tokenizer.ggml.tokens') as string[];
  assert.equal(tokens.length, 32000);
  assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  assert.ok(meta.get('tokenizer.ggml.scores') instanceof Float32Array);
  assert.ok(meta.get('tokenizer.ggml.token_type') instanceof Int32Array);
  assert.equal(meta.get('tokenizer.ggml.bos_token_id'), 1);
  assert.equal(meta.get('tokenizer.ggml.add_bos_token'), true);
});

test('round-trips every value type the writer produces', async () => {
  const kvs: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'dropped' }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: ['<unk>', 'é', '日本', '😀'] }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: [0, -1.5, 2.25, -1000] }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: [2, 1, 1, 6] }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 4294967295 }],
    ['tokenizer.x.i32', { type: 'i32', value: -7 }],
    ['tokenizer.x.f32', { type: 'f32', value: 0.5 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ];
  const meta = await readGgufTokenizerMetadata(write('all-types.gguf', encodeGguf(kvs)));
  assert.equal(meta.has('general.name'), false);
  assert.deepEqual(meta.get('tokenizer.ggml.tokens'), ['<unk>', 'é', '日本', '😀']);
  assert.deepEqual(Array.from(meta.get('tokenizer.ggml.scores') as Float32Array), [0, -1.5, 2.25, -1000]);
  assert.deepEqual(Array.from(meta.get('tokenizer.ggml.token_type') as Int32Array), [2, 1, 1, 6]);
  assert.equal(meta.get('tokenizer.ggml.bos_token_id'), 4294967295);
  assert.equal(meta.get('tokenizer.x.i32'), -7);
  assert.equal(meta.get('tokenizer.x.f32'), 0.5);
  assert.equal(meta.get('tokenizer.ggml.add_bos_token'), false);
  // An out-of-range special id (llama.cpp's "none") keeps the default.
  assert.equal(buildLlamaVocab(meta, 'all-types').bos, 1);
});

test('malformed files are ERR_MODEL_FORMAT, missing ones ERR_MODEL_NOT_FOUND', async (t) => {
  const good = encodeGguf([['tokenizer.ggml.tokens', { type: 'string[]', value: ['a', 'b', 'c'] }]]);
  const badMagic = Buffer.from(good);
  badMagic.write('GGUX', 0, 'latin1');
  await assert.rejects(readGgufTokenizerMetadata(write('magic.gguf', badMagic)), { code: 'ERR_MODEL_FORMAT', message: /magic/ });
  const v1 = Buffer.from(good);
  v1.writeUInt32LE(1, 4);
  await assert.rejects(readGgufTokenizerMetadata(write('v1.gguf', v1)), { code: 'ERR_MODEL_FORMAT', message: /version 1/ });
  await assert.rejects(readGgufTokenizerMetadata(write('cut.gguf', good.subarray(0, good.length - 2))), {
    code: 'ERR_MODEL_FORMAT',
    message: /past the end/,
  });
  const hugeString = Buffer.from(good);
  hugeString.writeBigUInt64LE(1n << 40n, 24); // the first key's length
  await assert.rejects(readGgufTokenizerMetadata(write('huge.gguf', hugeString)), { code: 'ERR_MODEL_FORMAT' });
  const hugeCount = Buffer.from(good);
  hugeCount.writeBigUInt64LE(1n << 50n, 16);
  await assert.rejects(readGgufTokenizerMetadata(write('count.gguf', hugeCount)), { code: 'ERR_MODEL_FORMAT' });
  await assert.rejects(readGgufTokenizerMetadata(join(dir, 'absent.gguf')), { code: 'ERR_MODEL_NOT_FOUND' });

  const real = modelPath(t, MODELS.vocabGpt2);
  if (real === null) return;
  const bytes = readFileSync(real);
  await assert.rejects(readGgufTokenizerMetadata(write('half.gguf', bytes.subarray(0, bytes.length >> 1))), {
    code: 'ERR_MODEL_FORMAT',
  });
});

test('vocabularies the tokenizer cannot serve are ERR_TOKENIZER_LOAD', () => {
  const base = (extra: [string, unknown][]): Map<string, unknown> =>
    new Map<string, unknown>([['tokenizer.ggml.tokens', ['a', 'b']], ...extra]);
  const cases: [Map<string, unknown>, RegExp][] = [
    [base([]), /tokenizer\.ggml\.model/],
    [base([['tokenizer.ggml.model', 't5']]), /"t5" is not supported/],
    [base([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'deepseek-coder'], ['tokenizer.ggml.merges', []]]), /pre "deepseek-coder"/],
    [base([['tokenizer.ggml.model', 'gpt2']]), /merges/],
    [new Map<string, unknown>([['tokenizer.ggml.model', 'llama'], ['tokenizer.ggml.tokens', ['a', 'a']]]), /duplicate/],
    [base([['tokenizer.ggml.model', 'llama'], ['tokenizer.ggml.scores', new Float32Array(1)]]), /scores/],
  ];
  for (const [meta, message] of cases) {
    assert.throws(() => buildLlamaVocab(meta, 'test'), { code: 'ERR_TOKENIZER_LOAD', message });
  }
});
