// What each supported architecture needs: the canonical tensors, their shapes (row-major,
// [outFeatures, inFeatures] for linear weights) and dtypes, derived from a ModelConfig. Both the
// GGUF and the HF path build a config, then check the file's tensors against it here, so the
// native runner can trust every tensor it maps.
import { dtypeName } from './dtype-info.js';
import { formatError, missingTensorError, unsupportedError } from './format-error.js';
import { DType, type Architecture, type ModelConfig } from './types.js';

export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'mistral', 'qwen2', 'qwen3'];

/** 1-D tensors (norm weights, biases, rope factors) may be stored in these dtypes. */
export const VECTOR_DTYPES: readonly DType[] = [DType.F32, DType.F16, DType.BF16];

export interface TensorRequirement {
  name: string;
  shape: number[];
  /** A 1-D tensor: restricted to VECTOR_DTYPES. */
  vector: boolean;
}

/** The tensors a model with this config consists of, in the order the runner uses them. */
export function requiredTensors(config: ModelConfig): TensorRequirement[] {
  const dim = config.hiddenSize;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const ffn = config.intermediateSize;
  const out: TensorRequirement[] = [];
  const matrix = (name: string, rows: number, cols: number): void => {
    out.push({ name, shape: [rows, cols], vector: false });
  };
  const vector = (name: string, length: number): void => {
    out.push({ name, shape: [length], vector: true });
  };
  matrix('token_embd.weight', config.vocabSize, dim);
  if (config.ropeFreqFactors) vector('rope_freqs.weight', config.ropeDim / 2);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `blk.${i}.`;
    vector(`${p}attn_norm.weight`, dim);
    matrix(`${p}attn_q.weight`, qDim, dim);
    matrix(`${p}attn_k.weight`, kvDim, dim);
    matrix(`${p}attn_v.weight`, kvDim, dim);
    if (config.qkvBias) {
      vector(`${p}attn_q.bias`, qDim);
      vector(`${p}attn_k.bias`, kvDim);
      vector(`${p}attn_v.bias`, kvDim);
    }
    if (config.qkNorm) {
      vector(`${p}attn_q_norm.weight`, config.headDim);
      vector(`${p}attn_k_norm.weight`, config.headDim);
    }
    matrix(`${p}attn_output.weight`, dim, qDim);
    if (config.attnOutputBias) vector(`${p}attn_output.bias`, dim);
    vector(`${p}ffn_norm.weight`, dim);
    matrix(`${p}ffn_gate.weight`, ffn, dim);
    matrix(`${p}ffn_up.weight`, ffn, dim);
    matrix(`${p}ffn_down.weight`, dim, ffn);
  }
  vector('output_norm.weight', dim);
  if (!config.tiedEmbeddings) matrix('output.weight', config.vocabSize, dim);
  return out;
}

export interface AvailableTensor {
  dtype: DType;
  shape: number[];
}

/**
 * Checks every required tensor exists with the right shape and an allowed dtype, and that the
 * file holds no tensor the architecture would silently ignore. Returns the requirement list.
 */
export function validateModelTensors(
  file: string,
  config: ModelConfig,
  available: ReadonlyMap<string, AvailableTensor>,
): TensorRequirement[] {
  const required = requiredTensors(config);
  const known = new Set<string>();
  for (const req of required) {
    known.add(req.name);
    const tensor = available.get(req.name);
    if (tensor === undefined) {
      throw missingTensorError(
        file,
        `tensor '${req.name}' (shape [${req.shape.join(', ')}]) is missing; architecture ${config.architecture} needs it`,
      );
    }
    if (!sameShape(tensor.shape, req.shape)) {
      throw formatError(
        file,
        `tensor '${req.name}' has shape [${tensor.shape.join(', ')}], expected [${req.shape.join(', ')}]`,
      );
    }
    if (req.vector && !VECTOR_DTYPES.includes(tensor.dtype)) {
      throw unsupportedError(
        file,
        `tensor '${req.name}' is ${dtypeName(tensor.dtype)}; 1-D tensors must be ${VECTOR_DTYPES.map(dtypeName).join(', ')}`,
      );
    }
  }
  for (const name of available.keys()) {
    if (!known.has(name)) {
      throw unsupportedError(
        file,
        `tensor '${name}' is not part of a ${config.architecture} model with this configuration ` +
          `(${config.numLayers} layers${config.qkvBias ? ', qkv bias' : ''}${config.qkNorm ? ', q/k norm' : ''}); ` +
          'running without it would give wrong results',
      );
    }
  }
  return required;
}

/** Structural checks on hyperparameters, shared by both formats. */
export function validateConfig(file: string, config: ModelConfig): void {
  const positive: (keyof ModelConfig)[] = [
    'hiddenSize',
    'numLayers',
    'numHeads',
    'numKvHeads',
    'headDim',
    'intermediateSize',
    'vocabSize',
    'maxPositionEmbeddings',
    'ropeDim',
  ];
  for (const key of positive) {
    const v = config[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw formatError(file, `${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (config.numHeads % config.numKvHeads !== 0) {
    throw formatError(file, `numHeads ${config.numHeads} is not a multiple of numKvHeads ${config.numKvHeads}`);
  }
  if (config.ropeDim % 2 !== 0 || config.ropeDim > config.headDim) {
    throw formatError(file, `rope dimension ${config.ropeDim} must be even and at most headDim ${config.headDim}`);
  }
  if (!(config.rmsNormEps > 0) || !Number.isFinite(config.rmsNormEps)) {
    throw formatError(file, `rms norm epsilon must be a positive number, got ${config.rmsNormEps}`);
  }
  if (!(config.ropeTheta > 0) || !Number.isFinite(config.ropeTheta)) {
    throw formatError(file, `rope theta must be a positive number, got ${config.ropeTheta}`);
  }
  const scaling = config.ropeScaling;
  if (scaling !== null) {
    const factors =
      scaling.type === 'llama3'
        ? [scaling.factor, scaling.lowFreqFactor, scaling.highFreqFactor, scaling.originalMaxPositionEmbeddings]
        : [scaling.factor];
    if (!factors.every((v) => Number.isFinite(v) && v > 0)) {
      throw formatError(file, `rope scaling ${JSON.stringify(scaling)} needs positive finite values`);
    }
    if (scaling.type === 'llama3' && scaling.highFreqFactor <= scaling.lowFreqFactor) {
      throw formatError(file, `llama3 rope scaling needs highFreqFactor > lowFreqFactor, got ${JSON.stringify(scaling)}`);
    }
  }
  const ids = config.bosTokenId === null ? config.eosTokenIds : [config.bosTokenId, ...config.eosTokenIds];
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= config.vocabSize) {
      throw formatError(file, `special token id ${id} is outside the vocabulary [0, ${config.vocabSize})`);
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
