// Random-weight models of any shape for tests and benches, written as GGUF (with a minimal llama SPM
// vocabulary) or as an HF directory. Each tensor's values come from a PRNG seeded by (seed, name),
// so the same options give the same F32 weights in both formats and in any write order.
// GGUF llama-family files use the 'norm' RoPE layout by convention (weights are random, so nothing
// is permuted); HF directories are 'neox'. llama3 rope scaling becomes a rope_freqs tensor in GGUF.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requiredTensors } from './architecture.js';
import { ggufF32, ggufString, ggufU32, type GgufValue } from './gguf/value.js';
import { writeGguf, type GgufTensorInput } from './gguf/writer.js';
import { hfTensorName } from './hf/tensor-names.js';
import { writeHfModelDir } from './hf/writer.js';
import { llama3RopeFreqFactors } from './rope-freq-factors.js';
import { buildSpmVocab, spmTokenizerFiles, spmVocabMetadata } from './synthetic-vocab.js';
import { DType, type Architecture, type ModelConfig, type RopeScaling } from './types.js';
import { invalidArgument } from '../errors.js';
import type { SafetensorsTensorInput } from './safetensors/writer.js';

export interface SyntheticModelOptions {
  architecture: Architecture;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Default numHeads. */
  numKvHeads?: number;
  /** Default hiddenSize / numHeads. */
  headDim?: number;
  intermediateSize: number;
  /** At least 259 for GGUF (3 special + 256 byte tokens). */
  vocabSize: number;
  maxPositionEmbeddings?: number;
  rmsNormEps?: number;
  ropeTheta?: number;
  ropeScaling?: RopeScaling | null;
  tiedEmbeddings?: boolean;
  /** HF attention_bias for llama/qwen3: biases on q, k, v and o. (Qwen2 always has q/k/v biases.) */
  attentionBias?: boolean;
  /** Storage type of 2-D weights (default F32; 1-D tensors stay F32), or a choice per tensor name. */
  dtype?: DType | ((canonicalName: string) => DType);
  seed?: number;
  name?: string;
}

const GGUF_ARCH: Readonly<Record<Architecture, string>> = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };
const HF_CLASS: Readonly<Record<Architecture, string>> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/** The ModelConfig a loader should produce for these options in the given format. */
export function syntheticModelConfig(options: SyntheticModelOptions, format: 'gguf' | 'hf'): ModelConfig {
  const headDim = options.headDim ?? options.hiddenSize / options.numHeads;
  const bias = options.attentionBias ?? false;
  if (bias && (options.architecture === 'qwen2' || options.architecture === 'mistral')) {
    throw invalidArgument('attentionBias', `false for ${options.architecture}`, bias);
  }
  const scaling = options.ropeScaling ?? null;
  const gguf = format === 'gguf';
  const f32 = (v: number): number => (gguf ? Math.fround(v) : v);
  return {
    architecture: gguf && options.architecture === 'mistral' ? 'llama' : options.architecture,
    hiddenSize: options.hiddenSize,
    numLayers: options.numLayers,
    numHeads: options.numHeads,
    numKvHeads: options.numKvHeads ?? options.numHeads,
    headDim,
    intermediateSize: options.intermediateSize,
    vocabSize: options.vocabSize,
    maxPositionEmbeddings: options.maxPositionEmbeddings ?? 2048,
    // GGUF stores these as float32.
    rmsNormEps: f32(options.rmsNormEps ?? 1e-5),
    ropeTheta: f32(options.ropeTheta ?? 10000),
    ropeLayout: gguf && (options.architecture === 'llama' || options.architecture === 'mistral') ? 'norm' : 'neox',
    ropeDim: headDim,
    ropeScaling: !gguf || scaling === null ? scaling : scaling.type === 'linear' ? { type: 'linear', factor: f32(scaling.factor) } : null,
    ropeFreqFactors: gguf && scaling?.type === 'llama3',
    qkvBias: options.architecture === 'qwen2' || bias,
    attnOutputBias: bias,
    qkNorm: options.architecture === 'qwen3',
    tiedEmbeddings: options.tiedEmbeddings ?? false,
    bosTokenId: 1,
    eosTokenIds: [2],
  };
}

/**
 * The F32 values of one canonical tensor (before any quantization). rope_freqs holds the llama3
 * factors; norm weights are near 1; everything else is uniform, scaled by 1/sqrt(fan-in).
 */
export function syntheticTensorValues(options: SyntheticModelOptions, name: string, shape: number[]): Float32Array {
  const config = syntheticModelConfig(options, 'gguf');
  if (name === 'rope_freqs.weight') {
    if (options.ropeScaling?.type !== 'llama3') throw invalidArgument('name', 'a tensor of this model', name);
    return llama3RopeFreqFactors(options.ropeScaling, config.ropeTheta, config.ropeDim);
  }
  const random = prng(options.seed ?? 0, name);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const isNorm = name.endsWith('norm.weight');
  const scale = shape.length === 2 ? 1 / Math.sqrt(shape[1]!) : 0.1;
  for (let i = 0; i < n; i++) out[i] = (isNorm ? 1 : 0) + (2 * random() - 1) * scale;
  return out;
}

/** Writes a GGUF model; returns the config loadModelSpec will report for it. */
export async function writeSyntheticGguf(path: string, options: SyntheticModelOptions): Promise<ModelConfig> {
  const config = syntheticModelConfig(options, 'gguf');
  const arch = GGUF_ARCH[options.architecture];
  const key = (k: string): string => `${arch}.${k}`;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', ggufString(arch)],
    ['general.name', ggufString(options.name ?? `synthetic-${options.architecture}`)],
    [key('context_length'), ggufU32(config.maxPositionEmbeddings)],
    [key('embedding_length'), ggufU32(config.hiddenSize)],
    [key('block_count'), ggufU32(config.numLayers)],
    [key('feed_forward_length'), ggufU32(config.intermediateSize)],
    [key('attention.head_count'), ggufU32(config.numHeads)],
    [key('attention.head_count_kv'), ggufU32(config.numKvHeads)],
    [key('attention.key_length'), ggufU32(config.headDim)],
    [key('attention.value_length'), ggufU32(config.headDim)],
    [key('attention.layer_norm_rms_epsilon'), ggufF32(config.rmsNormEps)],
    [key('rope.freq_base'), ggufF32(config.ropeTheta)],
    [key('rope.dimension_count'), ggufU32(config.ropeDim)],
  ];
  if (config.ropeScaling?.type === 'linear') {
    metadata.push(
      [key('rope.scaling.type'), ggufString('linear')],
      [key('rope.scaling.factor'), ggufF32(config.ropeScaling.factor)],
    );
  }
  metadata.push(...spmVocabMetadata(buildSpmVocab(config.vocabSize)));

  const tensors: GgufTensorInput[] = requiredTensors(config).map((req) => ({
    name: req.name,
    ne: [...req.shape].reverse(),
    dtype: tensorDType(options, req.name, req.shape),
    data: () => syntheticTensorValues(options, req.name, req.shape),
  }));
  await writeGguf(path, { metadata, tensors });
  return config;
}

/**
 * Writes an HF model directory (F32/F16/BF16 weights); returns the config loadModelSpec will report.
 * With `tokenizer`, also tokenizer.json and tokenizer_config.json holding the synthetic SPM vocabulary
 * (needs vocabSize >= 259), so the engine can load the directory.
 */
export async function writeSyntheticHfDir(
  dir: string,
  options: SyntheticModelOptions & { numShards?: number; generationConfig?: Record<string, unknown>; tokenizer?: boolean },
): Promise<ModelConfig> {
  const config = syntheticModelConfig(options, 'hf');
  const hfConfig: Record<string, unknown> = {
    architectures: [HF_CLASS[options.architecture]],
    model_type: options.architecture,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    intermediate_size: config.intermediateSize,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: hfRopeScaling(config.ropeScaling),
    tie_word_embeddings: config.tiedEmbeddings,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
  if (options.architecture === 'llama' || options.architecture === 'qwen3') hfConfig.attention_bias = config.attnOutputBias;
  if (options.architecture === 'mistral') hfConfig.sliding_window = null;
  const tensors: SafetensorsTensorInput[] = requiredTensors(config).map((req) => {
    const dtype = tensorDType(options, req.name, req.shape);
    if (dtype !== DType.F32 && dtype !== DType.F16 && dtype !== DType.BF16) {
      throw invalidArgument(`dtype of '${req.name}'`, 'F32, F16 or BF16 in an HF checkpoint', dtype);
    }
    const data = (): Float32Array => syntheticTensorValues(options, req.name, req.shape);
    return { name: hfTensorName(req.name), dtype, shape: req.shape, data };
  });
  await writeHfModelDir(dir, {
    config: hfConfig,
    tensors,
    numShards: options.numShards,
    generationConfig: options.generationConfig,
  });
  if (options.tokenizer) {
    const { tokenizerJson, tokenizerConfig } = spmTokenizerFiles(buildSpmVocab(config.vocabSize));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  }
  return config;
}

function tensorDType(options: SyntheticModelOptions, name: string, shape: number[]): DType {
  if (typeof options.dtype === 'function') return options.dtype(name);
  return shape.length === 2 ? (options.dtype ?? DType.F32) : DType.F32;
}

function hfRopeScaling(scaling: RopeScaling | null): Record<string, unknown> | null {
  if (scaling === null) return null;
  if (scaling.type === 'linear') return { rope_type: 'linear', factor: scaling.factor };
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
  };
}

/** mulberry32 seeded with the FNV-1a hash of the tensor name mixed with the seed: uniform in [0, 1). */
export function prng(seed: number, name: string): () => number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  let state = h;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
