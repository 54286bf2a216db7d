// loadModelSpec: how a path is resolved to a model, and the errors when none is there.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DType, findTensor, loadModelSpec, readTensorF32, writeSyntheticGguf, writeSyntheticHfDir, type SyntheticModelOptions } from '../../../lib/model/index.js';
import { expectModelError, expectModelErrorAsync } from '../../helpers/model-errors.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const OPTIONS: SyntheticModelOptions = { architecture: 'llama', hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, vocabSize: 260 };

test('a missing path is ERR_MODEL_NOT_FOUND naming it', async (t) => {
  const path = join(tmpDir(t), 'no-such-model');
  await expectModelErrorAsync(() => loadModelSpec(path), 'ERR_MODEL_NOT_FOUND', path, 'does not exist');
});

test('a .gguf file, or a directory holding exactly one', async (t) => {
  const dir = tmpDir(t);
  const file = join(dir, 'one.gguf');
  await writeSyntheticGguf(file, OPTIONS);
  const direct = await loadModelSpec(file);
  const viaDir = await loadModelSpec(dir);
  assert.deepEqual(viaDir, direct);
  assert.equal(direct.format, 'gguf');
  assert.equal(direct.name, 'synthetic-llama');

  copyFileSync(file, join(dir, 'two.gguf'));
  await expectModelErrorAsync(() => loadModelSpec(dir), 'ERR_MODEL_NOT_FOUND', dir, 'one.gguf, two.gguf');

  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await expectModelErrorAsync(() => loadModelSpec(empty), 'ERR_MODEL_NOT_FOUND', empty, 'no model here');

  const notGguf = join(dir, 'notes.txt');
  writeFileSync(notGguf, 'hello world');
  await expectModelErrorAsync(() => loadModelSpec(notGguf), 'ERR_MODEL_FORMAT', notGguf, 'not a GGUF file');
});

test('an HF directory, or any of its files, loads the HF checkpoint', async (t) => {
  const dir = join(tmpDir(t), 'hf');
  await writeSyntheticHfDir(dir, { ...OPTIONS, dtype: DType.F16 });
  const spec = await loadModelSpec(dir);
  assert.equal(spec.format, 'hf');
  assert.equal(spec.name, 'hf');
  assert.deepEqual(await loadModelSpec(join(dir, 'config.json')), spec);
  assert.deepEqual(await loadModelSpec(join(dir, 'model.safetensors')), spec);
  // config.json wins over a stray .gguf next to it.
  await writeSyntheticGguf(join(dir, 'extra.gguf'), OPTIONS);
  assert.equal((await loadModelSpec(dir)).format, 'hf');
});

test('findTensor / readTensorF32 name the missing tensor', async (t) => {
  const file = join(tmpDir(t), 'm.gguf');
  await writeSyntheticGguf(file, OPTIONS);
  const spec = await loadModelSpec(file);
  expectModelError(() => findTensor(spec, 'blk.9.attn_q.weight'), 'ERR_MODEL_MISSING_TENSOR', file, "'blk.9.attn_q.weight'");
  await expectModelErrorAsync(() => readTensorF32(spec, 'nope'), 'ERR_MODEL_MISSING_TENSOR', file, "'nope'");
  assert.equal((await readTensorF32(spec, 'output_norm.weight')).length, 32);
});
