// GGUF -> ModelSpec for each architecture on synthetic files, and the errors for files that do
// not describe a model kvserve can run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  DType,
  dtypeInfo,
  ggufF32,
  ggufString,
  ggufU32,
  llama3RopeFreqFactors,
  loadModelSpec,
  quant,
  readGguf,
  readTensorF32,
  requiredTensors,
  syntheticModelConfig,
  syntheticTensorValues,
  writeGguf,
  writeSyntheticGguf,
  type GgufTensorInput,
  type GgufValue,
  type SyntheticModelOptions,
} from '../../../lib/model/index.js';
import { expectModelErrorAsync } from '../../helpers/model-errors.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const LLAMA3: SyntheticModelOptions['ropeScaling'] = {
  type: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 64,
};

const ARCH_CASES: [string, SyntheticModelOptions][] = [
  [
    'llama with llama3 rope scaling, GQA and Q4_K matrices',
    {
      architecture: 'llama',
      hiddenSize: 256,
      numLayers: 2,
      numHeads: 8,
      numKvHeads: 2,
      intermediateSize: 512,
      vocabSize: 300,
      ropeTheta: 500000,
      ropeScaling: LLAMA3,
      dtype: DType.Q4_K,
      seed: 1,
    },
  ],
  [
    'mistral (stored as arch llama) with per-tensor dtypes',
    {
      architecture: 'mistral',
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 1,
      intermediateSize: 96,
      vocabSize: 320,
      dtype: (name) =>
        name === 'token_embd.weight' ? DType.F16
        : name === 'output.weight' ? DType.BF16
        : name.includes('attn_') && !name.includes('norm') ? DType.Q8_0
        : name.includes('ffn_') && !name.includes('norm') ? DType.Q4_0
        : DType.F32,
      seed: 2,
    },
  ],
  [
    'qwen2 with q/k/v biases, tied embeddings, Q6_K matrices',
    {
      architecture: 'qwen2',
      hiddenSize: 256,
      numLayers: 1,
      numHeads: 4,
      numKvHeads: 2,
      intermediateSize: 256,
      vocabSize: 259,
      tiedEmbeddings: true,
      dtype: DType.Q6_K,
      ropeTheta: 1000000,
      rmsNormEps: 1e-6,
      seed: 3,
    },
  ],
  [
    'qwen3 with q/k norm, explicit head_dim and linear rope scaling',
    {
      architecture: 'qwen3',
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 32,
      intermediateSize: 160,
      vocabSize: 400,
      ropeScaling: { type: 'linear', factor: 4 },
      dtype: DType.F16,
      seed: 4,
    },
  ],
];

for (const [title, options] of ARCH_CASES) {
  test(`synthetic GGUF -> ModelSpec: ${title}`, async (t) => {
    const path = join(tmpDir(t), 'model.gguf');
    const written = await writeSyntheticGguf(path, options);
    const spec = await loadModelSpec(path);
    assert.deepEqual(spec.config, written);
    assert.deepEqual(spec.config, syntheticModelConfig(options, 'gguf'));
    assert.equal(spec.config.ropeLayout, options.architecture === 'llama' || options.architecture === 'mistral' ? 'norm' : 'neox');
    assert.deepEqual(
      spec.tensors.map((x) => x.name),
      requiredTensors(spec.config).map((r) => r.name),
    );
    for (const tensor of spec.tensors) {
      const want = typeof options.dtype === 'function' ? options.dtype(tensor.name) : tensor.shape.length === 2 ? options.dtype : DType.F32;
      assert.equal(tensor.dtype, want, tensor.name);
      const values = syntheticTensorValues(options, tensor.name, tensor.shape);
      const expected = quant.dequantize(tensor.dtype, quant.quantize(tensor.dtype, values), values.length);
      assert.deepEqual(await readTensorF32(spec, tensor.name), expected, tensor.name);
    }
    if (options.ropeScaling?.type === 'llama3') {
      const factors = await readTensorF32(spec, 'rope_freqs.weight');
      assert.deepEqual(factors, llama3RopeFreqFactors(options.ropeScaling, spec.config.ropeTheta, spec.config.ropeDim));
      assert.equal(factors[0], 1, 'highest frequency is not scaled');
      assert.equal(factors[factors.length - 1], 8, 'lowest frequency is divided by the factor');
    }
  });
}

const BASE: SyntheticModelOptions = {
  architecture: 'llama',
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  intermediateSize: 96,
  vocabSize: 300,
};

/** Copies a GGUF, letting `edit` change its metadata and tensor list (data copied as raw bytes). */
async function rewrite(
  t: TestContext,
  edit: (metadata: Map<string, GgufValue>, tensors: GgufTensorInput[]) => void,
  options: SyntheticModelOptions = BASE,
): Promise<string> {
  const dir = tmpDir(t);
  const src = join(dir, 'src.gguf');
  await writeSyntheticGguf(src, options);
  const g = await readGguf(src);
  const bytes = readFileSync(src);
  const tensors: GgufTensorInput[] = g.tensors.map((x) => ({
    name: x.name,
    ne: x.ne,
    ggmlType: x.ggmlType,
    data: new Uint8Array(bytes.subarray(x.offset, x.offset + x.byteLength)),
  }));
  edit(g.metadata, tensors);
  const dst = join(dir, 'edited.gguf');
  await writeGguf(dst, { metadata: g.metadata, tensors });
  return dst;
}

function replaceTensor(tensors: GgufTensorInput[], name: string, next: GgufTensorInput): void {
  const i = tensors.findIndex((x) => x.name === name);
  assert.ok(i >= 0, name);
  tensors[i] = next;
}

test('missing, misshapen, wrongly typed and unknown tensors', async (t) => {
  const missing = await rewrite(t, (_, tensors) => tensors.splice(tensors.findIndex((x) => x.name === 'blk.1.ffn_up.weight'), 1));
  await expectModelErrorAsync(() => loadModelSpec(missing), 'ERR_MODEL_MISSING_TENSOR', missing, "'blk.1.ffn_up.weight'", '[96, 64]');

  const shape = await rewrite(t, (_, tensors) =>
    replaceTensor(tensors, 'blk.0.attn_k.weight', { name: 'blk.0.attn_k.weight', ne: [64, 64], dtype: DType.F32, data: new Float32Array(4096) }),
  );
  await expectModelErrorAsync(() => loadModelSpec(shape), 'ERR_MODEL_FORMAT', shape, "'blk.0.attn_k.weight' has shape [64, 64], expected [32, 64]");

  const quantNorm = await rewrite(t, (_, tensors) =>
    replaceTensor(tensors, 'blk.0.ffn_norm.weight', { name: 'blk.0.ffn_norm.weight', ne: [64], dtype: DType.Q8_0, data: new Float32Array(64) }),
  );
  await expectModelErrorAsync(() => loadModelSpec(quantNorm), 'ERR_MODEL_UNSUPPORTED', quantNorm, "'blk.0.ffn_norm.weight' is Q8_0", 'F32, F16, BF16');

  const q5k = await rewrite(
    t,
    (_, tensors) =>
      replaceTensor(tensors, 'blk.0.ffn_gate.weight', {
        name: 'blk.0.ffn_gate.weight',
        ne: [256, 96],
        ggmlType: 13,
        data: new Uint8Array(96 * 176),
      }),
    { ...BASE, hiddenSize: 256, numHeads: 4 },
  );
  await expectModelErrorAsync(() => loadModelSpec(q5k), 'ERR_MODEL_UNSUPPORTED', q5k, "'blk.0.ffn_gate.weight' is Q5_K");

  const extra = await rewrite(t, (_, tensors) => tensors.push({ name: 'blk.0.ffn_up.bias', ne: [96], dtype: DType.F32, data: new Float32Array(96) }));
  await expectModelErrorAsync(() => loadModelSpec(extra), 'ERR_MODEL_UNSUPPORTED', extra, "'blk.0.ffn_up.bias' is not part of");

  const extraLayer = await rewrite(t, (_, tensors) => tensors.push({ name: 'blk.2.attn_norm.weight', ne: [64], dtype: DType.F32, data: new Float32Array(64) }));
  await expectModelErrorAsync(() => loadModelSpec(extraLayer), 'ERR_MODEL_UNSUPPORTED', extraLayer, "'blk.2.attn_norm.weight'");

  const noBias = await rewrite(
    t,
    (_, tensors) => tensors.splice(tensors.findIndex((x) => x.name === 'blk.0.attn_v.bias'), 1),
    { ...BASE, architecture: 'qwen2' },
  );
  await expectModelErrorAsync(() => loadModelSpec(noBias), 'ERR_MODEL_MISSING_TENSOR', noBias, "'blk.0.attn_v.bias'");

  const noQkNorm = await rewrite(
    t,
    (_, tensors) => tensors.splice(tensors.findIndex((x) => x.name === 'blk.1.attn_k_norm.weight'), 1),
    { ...BASE, architecture: 'qwen3' },
  );
  await expectModelErrorAsync(() => loadModelSpec(noQkNorm), 'ERR_MODEL_MISSING_TENSOR', noQkNorm, "'blk.1.attn_k_norm.weight'", '[16]');
});

test('metadata problems: architecture, required keys, rope scaling, head counts, splits', async (t) => {
  const cases: [string, (m: Map<string, GgufValue>) => void, 'ERR_MODEL_FORMAT' | 'ERR_MODEL_UNSUPPORTED', string][] = [
    ['arch', (m) => m.set('general.architecture', ggufString('gpt2')), 'ERR_MODEL_UNSUPPORTED', "architecture 'gpt2' is not supported (supported: llama, qwen2, qwen3)"],
    ['no-arch', (m) => m.delete('general.architecture'), 'ERR_MODEL_FORMAT', "'general.architecture' is missing"],
    ['no-dim', (m) => m.delete('llama.embedding_length'), 'ERR_MODEL_FORMAT', "'llama.embedding_length' is missing"],
    ['no-eps', (m) => m.delete('llama.attention.layer_norm_rms_epsilon'), 'ERR_MODEL_FORMAT', 'layer_norm_rms_epsilon'],
    ['dim-type', (m) => m.set('llama.embedding_length', ggufString('64')), 'ERR_MODEL_FORMAT', "'llama.embedding_length' must be a number, got STRING"],
    ['yarn', (m) => m.set('llama.rope.scaling.type', ggufString('yarn')), 'ERR_MODEL_UNSUPPORTED', "rope scaling type 'yarn'"],
    ['linear-no-factor', (m) => m.set('llama.rope.scaling.type', ggufString('linear')), 'ERR_MODEL_FORMAT', 'rope.scaling.factor'],
    ['gqa', (m) => m.set('llama.attention.head_count_kv', ggufU32(3)), 'ERR_MODEL_FORMAT', 'not a multiple of numKvHeads 3'],
    ['rope-dim', (m) => m.set('llama.rope.dimension_count', ggufU32(15)), 'ERR_MODEL_FORMAT', 'rope dimension 15'],
    ['eps', (m) => m.set('llama.attention.layer_norm_rms_epsilon', ggufF32(-1)), 'ERR_MODEL_FORMAT', 'epsilon'],
    ['eos', (m) => m.set('tokenizer.ggml.eos_token_id', ggufU32(5000)), 'ERR_MODEL_FORMAT', 'special token id 5000'],
    ['vocab', (m) => m.set('llama.vocab_size', ggufU32(301)), 'ERR_MODEL_FORMAT', 'vocabulary has 300 tokens'],
    ['split', (m) => m.set('split.count', ggufU32(3)), 'ERR_MODEL_UNSUPPORTED', '3-file split GGUF'],
    ['value-length', (m) => m.set('llama.attention.value_length', ggufU32(8)), 'ERR_MODEL_UNSUPPORTED', 'value head size 8'],
  ];
  for (const [, edit, code, fragment] of cases) {
    const path = await rewrite(t, (m) => edit(m));
    await expectModelErrorAsync(() => loadModelSpec(path), code, path, fragment);
  }
});

test('an unset token id (0xFFFFFFFF) means none; EOT joins the end-of-generation ids', async (t) => {
  const path = await rewrite(t, (m) => {
    m.set('tokenizer.ggml.bos_token_id', ggufU32(0xffffffff));
    m.set('tokenizer.ggml.eot_token_id', ggufU32(7));
    m.set('general.sampling.temp', ggufF32(0.5));
    m.set('general.sampling.top_k', ggufU32(40));
  });
  const spec = await loadModelSpec(path);
  assert.equal(spec.config.bosTokenId, null);
  assert.deepEqual(spec.config.eosTokenIds, [2, 7]);
  assert.deepEqual(spec.generationDefaults, { temperature: 0.5, topK: 40 });
});

test('tensor byte lengths follow each dtype block geometry', async (t) => {
  const path = join(tmpDir(t), 'm.gguf');
  await writeSyntheticGguf(path, { ...BASE, hiddenSize: 256, intermediateSize: 512, dtype: DType.Q4_0 });
  const spec = await loadModelSpec(path);
  for (const tensor of spec.tensors) {
    const info = dtypeInfo(tensor.dtype);
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    assert.equal(tensor.byteLength, (elements / info.blockSize) * info.blockBytes, tensor.name);
  }
});
