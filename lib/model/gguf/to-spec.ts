// GGUF header -> ModelSpec for the llama (incl. Mistral, which converts to arch llama), qwen2 and
// qwen3 architectures. Hyperparameters come from `<arch>.*` metadata, token ids from
// `tokenizer.ggml.*`; tensor shapes are ggml's ne[] reversed (row-major, outermost first).
import { basename, resolve } from 'node:path';
import { SUPPORTED_ARCHITECTURES, validateConfig, validateModelTensors, type AvailableTensor } from '../architecture.js';
import { ALL_DTYPES, dtypeFromGgmlType, dtypeName } from '../dtype-info.js';
import { formatError, missingTensorError, unsupportedError } from '../format-error.js';
import type { Architecture, GenerationDefaults, ModelConfig, ModelSpec, RopeScaling, TensorSpec } from '../types.js';
import { GGUF_SAMPLING_KEYS } from './constants.js';
import { GgufMetadata } from './metadata.js';
import type { GgufFile, GgufTensorInfo } from './reader.js';

/** general.architecture values this loader understands, and the kvserve architecture each maps to. */
const GGUF_ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  llama: 'llama',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
};

/** ggml ids are a uint32; llama.cpp writes -1 (0xFFFFFFFF) for "no such token". */
const NO_TOKEN = 0xffffffff;

export function ggufToModelSpec(gguf: GgufFile): ModelSpec {
  const file = gguf.path;
  const meta = new GgufMetadata(file, gguf.metadata);
  if (gguf.tensors.length === 0) {
    throw missingTensorError(file, 'has no tensors (a vocab-only GGUF?); a model file with weights is needed');
  }
  const splitCount = meta.integer('split.count', 0);
  if (splitCount !== undefined && splitCount > 1) {
    throw unsupportedError(file, `is part of a ${splitCount}-file split GGUF; merge it first (llama-gguf-split --merge)`);
  }
  const archName = meta.string('general.architecture');
  if (archName === undefined) throw formatError(file, "required metadata 'general.architecture' is missing");
  const architecture = GGUF_ARCHITECTURES[archName];
  if (architecture === undefined) {
    throw unsupportedError(
      file,
      `GGUF architecture '${archName}' is not supported (supported: ${Object.keys(GGUF_ARCHITECTURES).join(', ')})`,
    );
  }

  const byName = new Map<string, GgufTensorInfo>();
  const available = new Map<string, AvailableTensor>();
  for (const t of gguf.tensors) {
    const dtype = dtypeFromGgmlType(t.ggmlType);
    if (dtype === undefined) {
      throw unsupportedError(
        file,
        `tensor '${t.name}' is ${t.typeName}; kvserve supports ${ALL_DTYPES.map(dtypeName).join(', ')}`,
      );
    }
    byName.set(t.name, t);
    available.set(t.name, { dtype, shape: [...t.ne].reverse() });
  }

  const config = buildConfig(file, meta, architecture, archName, available);
  validateConfig(file, config);
  const required = validateModelTensors(file, config, available);
  const tensors: TensorSpec[] = required.map((req) => {
    const t = byName.get(req.name)!;
    const a = available.get(req.name)!;
    return { name: req.name, dtype: a.dtype, shape: a.shape, fileIndex: 0, offset: t.offset, byteLength: t.byteLength };
  });
  const path = resolve(file);
  return {
    source: path,
    format: 'gguf',
    files: [path],
    config,
    tensors,
    generationDefaults: samplingDefaults(meta),
    name: meta.string('general.name') ?? basename(file).replace(/\.gguf$/i, ''),
  };
}

function buildConfig(
  file: string,
  meta: GgufMetadata,
  architecture: Architecture,
  prefix: string,
  available: ReadonlyMap<string, AvailableTensor>,
): ModelConfig {
  const key = (k: string): string => `${prefix}.${k}`;
  for (const k of ['attention.head_count', 'attention.head_count_kv', 'feed_forward_length']) {
    if (meta.isArray(key(k))) throw unsupportedError(file, `per-layer '${key(k)}' is not supported`);
  }
  const hiddenSize = meta.requireInteger(key('embedding_length'), 1);
  const numLayers = meta.requireInteger(key('block_count'), 1);
  const numHeads = meta.requireInteger(key('attention.head_count'), 1);
  const numKvHeads = meta.integer(key('attention.head_count_kv'), 1) ?? numHeads;
  const headDim = meta.integer(key('attention.key_length'), 1) ?? hiddenSize / numHeads;
  const valueLength = meta.integer(key('attention.value_length'), 1);
  if (valueLength !== undefined && valueLength !== headDim) {
    throw unsupportedError(file, `value head size ${valueLength} differs from key head size ${headDim}`);
  }
  if (!Number.isInteger(headDim)) {
    throw formatError(file, `embedding length ${hiddenSize} is not divisible by head count ${numHeads}`);
  }

  const embd = available.get('token_embd.weight');
  const numTokens = meta.arrayLength('tokenizer.ggml.tokens');
  const vocabSize = numTokens ?? embd?.shape[0];
  if (vocabSize === undefined) {
    throw missingTensorError(file, "tensor 'token_embd.weight' is missing and there is no tokenizer.ggml.tokens");
  }
  const declaredVocab = meta.integer(key('vocab_size'), 1);
  if (declaredVocab !== undefined && declaredVocab !== vocabSize) {
    throw formatError(file, `'${key('vocab_size')}' is ${declaredVocab} but the vocabulary has ${vocabSize} tokens`);
  }

  const tokenId = (k: string): number | null => {
    const id = meta.integer(k, -1);
    return id === undefined || id === -1 || id === NO_TOKEN ? null : id;
  };
  const eosTokenIds: number[] = [];
  for (const k of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const id = tokenId(k);
    if (id !== null && !eosTokenIds.includes(id)) eosTokenIds.push(id);
  }

  const ropeDim = meta.integer(key('rope.dimension_count'), 1) ?? headDim;
  return {
    architecture,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: meta.requireInteger(key('feed_forward_length'), 1),
    vocabSize,
    maxPositionEmbeddings: meta.requireInteger(key('context_length'), 1),
    rmsNormEps: meta.requireNumber(key('attention.layer_norm_rms_epsilon')),
    ropeTheta: meta.number(key('rope.freq_base')) ?? 10000,
    // llama.cpp's convert script permutes llama Q/K rows into adjacent-pair order; Qwen keeps HF's.
    ropeLayout: architecture === 'llama' ? 'norm' : 'neox',
    ropeDim,
    ropeScaling: ropeScaling(file, meta, prefix),
    ropeFreqFactors: available.has('rope_freqs.weight'),
    qkvBias: architecture === 'qwen2' || available.has('blk.0.attn_q.bias'),
    attnOutputBias: architecture !== 'qwen2' && available.has('blk.0.attn_output.bias'),
    qkNorm: architecture === 'qwen3',
    tiedEmbeddings: !available.has('output.weight'),
    bosTokenId: tokenId('tokenizer.ggml.bos_token_id'),
    eosTokenIds,
  };
}

function ropeScaling(file: string, meta: GgufMetadata, prefix: string): RopeScaling | null {
  const type = meta.string(`${prefix}.rope.scaling.type`);
  const factor = meta.number(`${prefix}.rope.scaling.factor`);
  if (type === undefined || type === 'none') {
    // Older files carry only the legacy linear key.
    const legacy = meta.number(`${prefix}.rope.scale_linear`);
    return legacy === undefined || legacy === 1 ? null : { type: 'linear', factor: legacy };
  }
  if (type === 'linear') {
    if (factor === undefined) throw formatError(file, `'${prefix}.rope.scaling.factor' is required for linear scaling`);
    return { type: 'linear', factor };
  }
  throw unsupportedError(file, `rope scaling type '${type}' is not supported (supported: none, linear)`);
}

function samplingDefaults(meta: GgufMetadata): GenerationDefaults {
  const out: GenerationDefaults = {};
  const temperature = meta.number(GGUF_SAMPLING_KEYS.temperature);
  if (temperature !== undefined) out.temperature = temperature;
  const topK = meta.integer(GGUF_SAMPLING_KEYS.topK, -1);
  if (topK !== undefined) out.topK = topK;
  const topP = meta.number(GGUF_SAMPLING_KEYS.topP);
  if (topP !== undefined) out.topP = topP;
  const minP = meta.number(GGUF_SAMPLING_KEYS.minP);
  if (minP !== undefined) out.minP = minP;
  const repetitionPenalty = meta.number(GGUF_SAMPLING_KEYS.repetitionPenalty);
  if (repetitionPenalty !== undefined) out.repetitionPenalty = repetitionPenalty;
  return out;
}
