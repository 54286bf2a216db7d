// Regression tests for what the native fuzz targets found (native/fuzz/regressions), through the
// addon as the engine reaches it: JS numbers that are NaN, infinite or huge where the addon wants an
// integer (maxBlocksPerSeq, a tensor's shape) are errors naming the field, never a cast with
// undefined behaviour; a float tensor at an offset that is not a multiple of 4 (a safetensors header
// of odd length) loads and computes exactly as an aligned one; an empty row dequantizes to nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../lib/engine/engine.js';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { nativeModelDescription } from '../../lib/native/model-description.js';
import { buildStepInput } from '../../lib/runner/build-step-input.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { addon, ISAS } from '../helpers/native.js';
import { tmpDir } from '../helpers/tmp-dir.js';

test('maxBlocksPerSeq that is NaN, infinite, fractional or huge is a RangeError naming it', async (t) => {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return;
  const spec = await loadModelSpec(path);
  const model = new addon.Model(nativeModelDescription(spec, { numBlocks: 4, blockSize: 16, dtype: 'f32' }, 1));
  t.after(() => model.close());
  const input = buildStepInput([{ tokenIds: [1, 2, 3], startPosition: 0, numScheduledTokens: 3, blockIds: [0], sampleThisStep: true }], 16);
  for (const bad of [NaN, Infinity, -Infinity, 1.5, 2 ** 63, -1, 0]) {
    assert.throws(() => model.step({ ...input, maxBlocksPerSeq: bad }), (err: Error) => err instanceof RangeError && /step\.maxBlocksPerSeq: expected an integer in \[1, 2147483647\]/.test(err.message), String(bad));
  }
  const ok = await model.step(input);
  assert.equal(ok.tokenIds.length, 1);
});

test('a tensor shape holding NaN, an infinity or a huge number is a load error naming the tensor', async (t) => {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return;
  const spec = await loadModelSpec(path);
  for (const bad of [NaN, Infinity, -Infinity, 1e300, -8.6e62, 2 ** 41, 0.5]) {
    const desc = nativeModelDescription(spec, { numBlocks: 4, blockSize: 16, dtype: 'f32' }, 1);
    const t0 = desc.tensors[0]!;
    desc.tensors[0] = { ...t0, shape: [bad, ...t0.shape.slice(1)] };
    assert.throws(() => new addon.Model(desc), new RegExp(`'${t0.name.replace(/\./g, '\\.')}'.*(invalid dimension|shape\\[0\\]: expected an integer)`), String(bad));
  }
});

test('float tensors misaligned in their file (odd safetensors header) give the same output as aligned ones', async (t) => {
  const dir = modelPath(t, MODELS.tinystoriesHfDir);
  if (dir === null) return;
  const out = tmpDir(t);
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(join(dir, f), join(out, f));
  // Pad the JSON header by one space: every tensor's data now starts one byte later (offset % 4 == 1).
  const original = readFileSync(join(dir, 'model.safetensors'));
  const headerLength = Number(original.readBigUInt64LE(0));
  const padded = Buffer.concat([Buffer.alloc(8), original.subarray(8, 8 + headerLength), Buffer.from(' '), original.subarray(8 + headerLength)]);
  padded.writeBigUInt64LE(BigInt(headerLength + 1), 0);
  writeFileSync(join(out, 'model.safetensors'), padded);
  const spec = await loadModelSpec(out);
  assert.ok(spec.tensors.every((x) => x.offset % 4 === (9 + headerLength) % 4) && (9 + headerLength) % 4 !== 0, 'the tensors are misaligned');
  const generate = async (model: string): Promise<string> => {
    const engine = await Engine.create({ model, maxModelLen: 128, kvCacheMemory: '1MiB', threads: 1, kvCacheDtype: 'f32' });
    try {
      let text = '';
      for await (const e of engine.generate('Once upon a time', { maxTokens: 24, temperature: 0 })) if (e.type === 'final') text = e.text;
      return text;
    } finally {
      await engine.close();
    }
  };
  assert.equal(await generate(out), await generate(dir));
});

test('dequantizing an empty row writes nothing, in every variant', () => {
  for (const isa of ISAS) {
    for (let dtype = 0; dtype <= 6; dtype++) addon.ops.dequantizeRow(isa, new Float32Array(0), new Uint8Array(0), dtype, 0);
  }
});
