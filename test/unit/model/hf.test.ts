// HF directory -> ModelSpec: the real tinystories checkpoint (lm_head-only tied embeddings),
// synthetic directories per architecture, sharding, tying variants, config parsing and errors.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  DType,
  loadModelSpec,
  parseHfConfig,
  quant,
  readTensorBytes,
  readTensorF32,
  requiredTensors,
  syntheticModelConfig,
  syntheticTensorValues,
  writeHfModelDir,
  writeSyntheticHfDir,
  type SafetensorsTensorInput,
  type SyntheticModelOptions,
} from '../../../lib/model/index.js';
import { MODELS, modelPath } from '../../helpers/models.js';
import { expectModelError, expectModelErrorAsync } from '../../helpers/model-errors.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

test('tinystories-656K: only lm_head is stored; the embedding reads the same bytes', async (t) => {
  const dir = modelPath(t, MODELS.tinystoriesHfDir);
  if (dir === null) return;
  const spec = await loadModelSpec(dir);
  const c = spec.config;
  assert.equal(spec.format, 'hf');
  assert.equal(spec.name, 'tinystories-656K');
  assert.deepEqual(spec.files, [join(dir, 'model.safetensors')]);
  assert.deepEqual(
    [c.architecture, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize, c.vocabSize],
    ['llama', 128, 2, 8, 4, 16, 384, 2048],
  );
  assert.deepEqual([c.maxPositionEmbeddings, c.rmsNormEps, c.ropeTheta, c.ropeLayout, c.ropeDim], [512, 1e-6, 10000, 'neox', 16]);
  assert.equal(c.tiedEmbeddings, true);
  assert.deepEqual([c.bosTokenId, c.eosTokenIds], [1, [2]]);
  assert.deepEqual(spec.generationDefaults, { eosTokenIds: [2], bosTokenId: 1 });
  assert.equal(spec.tensors.length, 20);
  assert.equal(spec.tensors.find((x) => x.name === 'output.weight'), undefined);
  const embd = spec.tensors.find((x) => x.name === 'token_embd.weight')!;
  assert.deepEqual([embd.dtype, embd.shape, embd.offset, embd.byteLength], [DType.F32, [2048, 128], 2168, 2048 * 128 * 4]);
  // The same bytes as lm_head.weight in the file, read independently of the loader.
  const file = readFileSync(join(dir, 'model.safetensors'));
  assert.deepEqual(await readTensorBytes(spec, 'token_embd.weight'), new Uint8Array(file.subarray(2168, 2168 + 1048576)));
  const q = spec.tensors.find((x) => x.name === 'blk.1.attn_q.weight')!;
  assert.deepEqual(q.shape, [128, 128]);
  assert.deepEqual(spec.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')!.shape, [128, 384]);
});

const ARCHS: [string, SyntheticModelOptions & { numShards?: number }][] = [
  [
    'llama with llama3 rope_scaling and attention_bias',
    {
      architecture: 'llama',
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      intermediateSize: 96,
      vocabSize: 128,
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      attentionBias: true,
      dtype: DType.BF16,
      seed: 11,
    },
  ],
  ['mistral, sharded in 3', { architecture: 'mistral', hiddenSize: 32, numLayers: 3, numHeads: 4, numKvHeads: 1, intermediateSize: 48, vocabSize: 64, numShards: 3, seed: 12 }],
  ['qwen2 with q/k/v biases, tied', { architecture: 'qwen2', hiddenSize: 48, numLayers: 1, numHeads: 6, numKvHeads: 2, intermediateSize: 80, vocabSize: 90, tiedEmbeddings: true, dtype: DType.F16, seed: 13 }],
  ['qwen3 with q/k norm and explicit head_dim', { architecture: 'qwen3', hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 64, vocabSize: 70, seed: 14 }],
];

for (const [title, options] of ARCHS) {
  test(`synthetic HF dir -> ModelSpec: ${title}`, async (t) => {
    const dir = join(tmpDir(t), 'model');
    const written = await writeSyntheticHfDir(dir, options);
    const spec = await loadModelSpec(dir);
    assert.deepEqual(spec.config, written);
    assert.deepEqual(spec.config, syntheticModelConfig(options, 'hf'));
    assert.equal(spec.config.ropeLayout, 'neox');
    assert.equal(spec.files.length, options.numShards ?? 1);
    if ((options.numShards ?? 1) > 1) assert.equal(new Set(spec.tensors.map((x) => x.fileIndex)).size, options.numShards);
    assert.deepEqual(spec.tensors.map((x) => x.name), requiredTensors(spec.config).map((r) => r.name));
    for (const tensor of spec.tensors) {
      const values = syntheticTensorValues(options, tensor.name, tensor.shape);
      const expected = quant.dequantize(tensor.dtype, quant.quantize(tensor.dtype, values), values.length);
      assert.deepEqual(await readTensorF32(spec, tensor.name), expected, tensor.name);
    }
  });
}

const TINY = { architecture: 'llama' as const, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 24, vocabSize: 32 };

function tinyConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 24,
    vocab_size: 32,
    ...extra,
  };
}

/** HF-named F32 tensors of TINY (names mapped by an independent table); `skip` drops some, `extra` adds. */
function tinyTensors(opts: { skip?: string[]; extra?: SafetensorsTensorInput[] } = {}): SafetensorsTensorInput[] {
  const config = syntheticModelConfig({ ...TINY, tiedEmbeddings: false }, 'hf');
  const names: [string, string, number[]][] = requiredTensors(config).map((r) => [r.name, hfName(r.name), r.shape]);
  return [
    ...names
      .filter(([, hf]) => !(opts.skip ?? []).includes(hf))
      .map(([canonical, hf, shape]) => ({ name: hf, dtype: DType.F32 as const, shape, data: syntheticTensorValues(TINY, canonical, shape) })),
    ...(opts.extra ?? []),
  ];
}

function hfName(canonical: string): string {
  const top: Record<string, string> = { 'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight' };
  if (top[canonical]) return top[canonical]!;
  const m = /^blk\.(\d+)\.(.+)$/.exec(canonical)!;
  const layer: Record<string, string> = {
    'attn_norm.weight': 'input_layernorm.weight',
    'attn_q.weight': 'self_attn.q_proj.weight',
    'attn_k.weight': 'self_attn.k_proj.weight',
    'attn_v.weight': 'self_attn.v_proj.weight',
    'attn_output.weight': 'self_attn.o_proj.weight',
    'ffn_norm.weight': 'post_attention_layernorm.weight',
    'ffn_gate.weight': 'mlp.gate_proj.weight',
    'ffn_up.weight': 'mlp.up_proj.weight',
    'ffn_down.weight': 'mlp.down_proj.weight',
  };
  return `model.layers.${m[1]}.${layer[m[2]!]}`;
}

async function tinyDir(t: TestContext, config: Record<string, unknown>, tensors: SafetensorsTensorInput[], extra: Partial<Parameters<typeof writeHfModelDir>[1]> = {}): Promise<string> {
  const dir = join(tmpDir(t), 'm');
  await writeHfModelDir(dir, { config, tensors, ...extra });
  return dir;
}

test('tied embedding variants: embed only, lm_head only, both', async (t) => {
  const embedOnly = await loadModelSpec(await tinyDir(t, tinyConfig({ tie_word_embeddings: false }), tinyTensors({ skip: ['lm_head.weight'] })));
  assert.equal(embedOnly.config.tiedEmbeddings, true);
  assert.equal(embedOnly.tensors.some((x) => x.name === 'output.weight'), false);

  const headDir = await tinyDir(t, tinyConfig({ tie_word_embeddings: true }), tinyTensors({ skip: ['model.embed_tokens.weight'] }));
  const headOnly = await loadModelSpec(headDir);
  assert.equal(headOnly.config.tiedEmbeddings, true);
  assert.deepEqual(await readTensorF32(headOnly, 'token_embd.weight'), syntheticTensorValues(TINY, 'output.weight', [32, 16]));

  const untied = await loadModelSpec(await tinyDir(t, tinyConfig({ tie_word_embeddings: false }), tinyTensors()));
  assert.equal(untied.config.tiedEmbeddings, false);
  assert.deepEqual(await readTensorF32(untied, 'output.weight'), syntheticTensorValues(TINY, 'output.weight', [32, 16]));
  assert.deepEqual(await readTensorF32(untied, 'token_embd.weight'), syntheticTensorValues(TINY, 'token_embd.weight', [32, 16]));

  const tiedBoth = await loadModelSpec(await tinyDir(t, tinyConfig({ tie_word_embeddings: true }), tinyTensors()));
  assert.equal(tiedBoth.config.tiedEmbeddings, true);
  assert.equal(tiedBoth.tensors.some((x) => x.name === 'output.weight'), false);

  const neither = await tinyDir(t, tinyConfig(), tinyTensors({ skip: ['lm_head.weight', 'model.embed_tokens.weight'] }));
  await expectModelErrorAsync(() => loadModelSpec(neither), 'ERR_MODEL_MISSING_TENSOR', 'm', 'embed_tokens', 'lm_head');
});

test('config.json: defaults, eos lists, sliding windows, rope parameters, generation_config', async (t) => {
  const parse = (extra: Record<string, unknown>) => parseHfConfig('config.json', tinyConfig(extra)).config;
  const base = parse({});
  assert.deepEqual(
    [base.numKvHeads, base.headDim, base.maxPositionEmbeddings, base.rmsNormEps, base.ropeTheta, base.tiedEmbeddings, base.bosTokenId, base.eosTokenIds],
    [2, 8, 2048, 1e-6, 10000, false, null, []],
  );
  assert.deepEqual(parse({ eos_token_id: [128001, 128008, 128009, 128001] }).eosTokenIds, [128001, 128008, 128009]);
  const mistral = (extra: Record<string, unknown>) => parseHfConfig('config.json', { ...tinyConfig(extra), architectures: ['MistralForCausalLM'] }).config;
  assert.equal(mistral({ max_position_embeddings: 32768 }).maxPositionEmbeddings, 4096, 'class default window 4096');
  assert.equal(mistral({ max_position_embeddings: 32768, sliding_window: null }).maxPositionEmbeddings, 32768);
  const qwen2 = (extra: Record<string, unknown>) => parseHfConfig('config.json', { ...tinyConfig(extra), architectures: ['Qwen2ForCausalLM'] }).config;
  assert.equal(qwen2({ max_position_embeddings: 32768, sliding_window: 4096, use_sliding_window: false }).maxPositionEmbeddings, 32768);
  assert.equal(qwen2({ max_position_embeddings: 32768, sliding_window: 4096, use_sliding_window: true }).maxPositionEmbeddings, 4096);
  assert.equal(parseHfConfig('config.json', { ...tinyConfig(), architectures: undefined, model_type: 'qwen3' }).config.headDim, 128, 'Qwen3Config default head_dim');
  assert.deepEqual(parse({ rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling, { type: 'linear', factor: 2 });
  assert.equal(parse({ rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
  const v5 = parse({ rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
  assert.equal(v5.ropeTheta, 500000);
  assert.deepEqual(v5.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });

  const dir = await tinyDir(t, tinyConfig({ eos_token_id: 2 }), tinyTensors(), {
    generationConfig: { temperature: 0.6, top_k: 20, top_p: 0.95, min_p: 0.05, repetition_penalty: 1.1, max_new_tokens: 64, eos_token_id: [2, 5], bos_token_id: 1, do_sample: true },
  });
  const spec = await loadModelSpec(dir);
  assert.deepEqual(spec.generationDefaults, { temperature: 0.6, topK: 20, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1, maxNewTokens: 64, eosTokenIds: [2, 5], bosTokenId: 1 });
  assert.deepEqual(spec.config.eosTokenIds, [2, 5], 'generation_config eos ids also end generation');
  assert.equal(spec.config.bosTokenId, 1);
});

test('config.json errors name the field and the value', async (t) => {
  const cases: [Record<string, unknown>, 'ERR_MODEL_FORMAT' | 'ERR_MODEL_UNSUPPORTED', string][] = [
    [{ architectures: ['GPT2LMHeadModel'] }, 'ERR_MODEL_UNSUPPORTED', 'not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)'],
    [{ architectures: undefined, model_type: 'gemma' }, 'ERR_MODEL_UNSUPPORTED', 'model_type "gemma" is not supported'],
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'ERR_MODEL_UNSUPPORTED', "rope_scaling type 'yarn'"],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'ERR_MODEL_FORMAT', "'rope_scaling.low_freq_factor' is required"],
    [{ hidden_act: 'gelu' }, 'ERR_MODEL_UNSUPPORTED', "hidden_act 'gelu'"],
    [{ mlp_bias: true }, 'ERR_MODEL_UNSUPPORTED', 'mlp_bias'],
    [{ quantization_config: { quant_method: 'gptq' } }, 'ERR_MODEL_UNSUPPORTED', 'quant_method = gptq'],
    [{ hidden_size: undefined }, 'ERR_MODEL_FORMAT', "'hidden_size' is required"],
    [{ hidden_size: '16' }, 'ERR_MODEL_FORMAT', `'hidden_size' must be an integer >= 1, got "16"`],
    [{ num_attention_heads: 3 }, 'ERR_MODEL_FORMAT', 'not divisible by num_attention_heads 3'],
    [{ eos_token_id: 'x' }, 'ERR_MODEL_FORMAT', "'eos_token_id' must be a token id or a list"],
    [{ tie_word_embeddings: 'yes' }, 'ERR_MODEL_FORMAT', "'tie_word_embeddings' must be true or false"],
  ];
  for (const [extra, code, fragment] of cases) {
    expectModelError(() => parseHfConfig('/models/x/config.json', tinyConfig(extra)), code, 'config.json', fragment);
  }
  // The same checks fire through loadModelSpec, naming the directory's config.json.
  const dir = await tinyDir(t, tinyConfig({ architectures: ['BertModel'] }), tinyTensors());
  await expectModelErrorAsync(() => loadModelSpec(dir), 'ERR_MODEL_UNSUPPORTED', join(dir, 'config.json'), 'BertModel');
});

test('weights problems: missing files, stray tensors, bad index, pickles', async (t) => {
  const noWeights = join(tmpDir(t), 'empty');
  mkdirSync(noWeights);
  writeFileSync(join(noWeights, 'config.json'), JSON.stringify(tinyConfig()));
  await expectModelErrorAsync(() => loadModelSpec(noWeights), 'ERR_MODEL_MISSING_TENSOR', noWeights, 'model.safetensors');
  writeFileSync(join(noWeights, 'pytorch_model.bin'), 'x');
  await expectModelErrorAsync(() => loadModelSpec(noWeights), 'ERR_MODEL_UNSUPPORTED', noWeights, 'safetensors');

  const badJson = join(tmpDir(t), 'badjson');
  mkdirSync(badJson);
  writeFileSync(join(badJson, 'config.json'), '{ nope');
  await expectModelErrorAsync(() => loadModelSpec(badJson), 'ERR_MODEL_FORMAT', 'config.json', 'not valid JSON');

  const stray = await tinyDir(t, tinyConfig(), tinyTensors({ extra: [{ name: 'model.layers.0.mlp.gate_proj.bias', dtype: DType.F32, shape: [24], data: new Float32Array(24) }] }));
  await expectModelErrorAsync(() => loadModelSpec(stray), 'ERR_MODEL_UNSUPPORTED', 'model.safetensors', 'model.layers.0.mlp.gate_proj.bias');
  const unknown = await tinyDir(t, tinyConfig(), tinyTensors({ extra: [{ name: 'model.vision_tower.weight', dtype: DType.F32, shape: [2], data: new Float32Array(2) }] }));
  await expectModelErrorAsync(() => loadModelSpec(unknown), 'ERR_MODEL_UNSUPPORTED', 'model.safetensors', 'model.vision_tower.weight');
  const inv = await tinyDir(t, tinyConfig(), tinyTensors({ extra: [{ name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: DType.F32, shape: [4], data: new Float32Array(4) }] }));
  assert.equal((await loadModelSpec(inv)).tensors.length, requiredTensors(syntheticModelConfig(TINY, 'hf')).length, 'inv_freq buffers are skipped');

  const missing = await tinyDir(t, tinyConfig(), tinyTensors({ skip: ['model.layers.0.mlp.up_proj.weight'] }));
  await expectModelErrorAsync(() => loadModelSpec(missing), 'ERR_MODEL_MISSING_TENSOR', 'm', "'blk.0.ffn_up.weight'", '[24, 16]');
  const shape = await tinyDir(t, tinyConfig({ intermediate_size: 20 }), tinyTensors());
  await expectModelErrorAsync(() => loadModelSpec(shape), 'ERR_MODEL_FORMAT', 'm', "'blk.0.ffn_gate.weight' has shape [24, 16], expected [20, 16]");

  const sharded = await tinyDir(t, tinyConfig(), tinyTensors(), { numShards: 2 });
  const indexPath = join(sharded, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
  index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
  index.weight_map['model.layers.0.input_layernorm.weight'] = 'model-00002-of-00002.safetensors';
  writeFileSync(indexPath, JSON.stringify(index));
  await expectModelErrorAsync(() => loadModelSpec(sharded), 'ERR_MODEL_FORMAT', 'model.safetensors.index.json', 'weight_map puts');
  index.weight_map['model.norm.weight'] = 'model-00003-of-00002.safetensors';
  writeFileSync(indexPath, JSON.stringify(index));
  await expectModelErrorAsync(() => loadModelSpec(sharded), 'ERR_MODEL_NOT_FOUND', 'model-00003-of-00002.safetensors');
});

test('HF checkpoints keep rotate_half order: Q/K bytes are not permuted', async (t) => {
  const dir = join(tmpDir(t), 'q');
  await writeSyntheticHfDir(dir, { ...TINY, seed: 5 });
  const spec = await loadModelSpec(dir);
  assert.deepEqual(await readTensorF32(spec, 'blk.0.attn_q.weight'), syntheticTensorValues({ ...TINY, seed: 5 }, 'blk.0.attn_q.weight', [16, 16]));
});
