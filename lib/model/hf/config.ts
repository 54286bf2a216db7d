// config.json of a Hugging Face checkpoint -> ModelConfig, for LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM. Absent fields take the defaults of
// the matching transformers config class, so a minimal config means what it means to transformers.
import { formatError, unsupportedError } from '../format-error.js';
import { isPlainObject } from '../safetensors/reader.js';
import type { Architecture, ModelConfig, RopeScaling } from '../types.js';

export const HF_ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

const MODEL_TYPES: Readonly<Record<string, Architecture>> = {
  llama: 'llama',
  mistral: 'mistral',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
};

interface ClassDefaults {
  maxPositionEmbeddings: number;
  /** Mistral's class default is a 4096-token sliding window; the others use none by default. */
  slidingWindow: number | null;
}

const DEFAULTS: Readonly<Record<Architecture, ClassDefaults>> = {
  llama: { maxPositionEmbeddings: 2048, slidingWindow: null },
  mistral: { maxPositionEmbeddings: 4096 * 32, slidingWindow: 4096 },
  qwen2: { maxPositionEmbeddings: 32768, slidingWindow: null },
  qwen3: { maxPositionEmbeddings: 32768, slidingWindow: null },
};

export interface HfConfig {
  /** tiedEmbeddings holds tie_word_embeddings here; the tensor scan may still force it on. */
  config: ModelConfig;
  /** _name_or_path when present. */
  nameOrPath: string | undefined;
}

export function parseHfConfig(file: string, json: unknown): HfConfig {
  if (!isPlainObject(json)) throw formatError(file, 'must be a JSON object');
  const architecture = detectArchitecture(file, json);
  const f = new Fields(file, json);

  const activation = f.string('hidden_act') ?? 'silu';
  if (activation !== 'silu') throw unsupportedError(file, `hidden_act '${activation}' is not supported (only silu)`);
  if (f.boolean('mlp_bias') === true) throw unsupportedError(file, 'mlp_bias = true is not supported');
  const quant = json.quantization_config;
  if (quant !== undefined && quant !== null) {
    const method = isPlainObject(quant) ? String(quant.quant_method) : 'unknown';
    throw unsupportedError(file, `quantized checkpoints (quantization_config.quant_method = ${method}) are not supported`);
  }

  const hiddenSize = f.requireInt('hidden_size', 1);
  const numHeads = f.requireInt('num_attention_heads', 1);
  // Qwen3Config defaults head_dim to 128; the others derive it.
  const headDim = f.int('head_dim', 1) ?? (architecture === 'qwen3' ? 128 : hiddenSize / numHeads);
  if (!Number.isInteger(headDim)) {
    throw formatError(file, `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  const defaults = DEFAULTS[architecture];
  let maxPositionEmbeddings = f.int('max_position_embeddings', 1) ?? defaults.maxPositionEmbeddings;
  // kvserve has no sliding-window attention; within the window it is plain causal attention, so
  // cap the context there (exact, not an approximation).
  const usesWindow = architecture === 'mistral' || f.boolean('use_sliding_window') === true;
  const window = json.sliding_window === undefined ? defaults.slidingWindow : f.int('sliding_window', 1) ?? null;
  if (usesWindow && window !== null) maxPositionEmbeddings = Math.min(maxPositionEmbeddings, window);

  const rope = ropeParameters(file, json, f);
  const attentionBias = f.boolean('attention_bias') ?? false;
  if (architecture === 'mistral' && attentionBias) throw unsupportedError(file, 'attention_bias is not supported for mistral');
  const bos = f.tokenId('bos_token_id');
  const config: ModelConfig = {
    architecture,
    hiddenSize,
    numLayers: f.requireInt('num_hidden_layers', 1),
    numHeads,
    numKvHeads: f.int('num_key_value_heads', 1) ?? numHeads,
    headDim,
    intermediateSize: f.requireInt('intermediate_size', 1),
    vocabSize: f.requireInt('vocab_size', 1),
    maxPositionEmbeddings,
    rmsNormEps: f.number('rms_norm_eps') ?? 1e-6,
    ropeTheta: rope.theta,
    ropeLayout: 'neox',
    ropeDim: headDim,
    ropeScaling: rope.scaling,
    ropeFreqFactors: false,
    // Qwen2 always has q/k/v biases (and no o_proj bias); llama/qwen3 attention_bias adds all four.
    qkvBias: architecture === 'qwen2' || attentionBias,
    attnOutputBias: architecture !== 'qwen2' && attentionBias,
    qkNorm: architecture === 'qwen3',
    tiedEmbeddings: f.boolean('tie_word_embeddings') ?? false,
    bosTokenId: bos ?? null,
    eosTokenIds: f.tokenIds('eos_token_id'),
  };
  const nameOrPath = f.string('_name_or_path');
  return { config, nameOrPath: nameOrPath === '' ? undefined : nameOrPath };
}

function detectArchitecture(file: string, json: Record<string, unknown>): Architecture {
  const supported = Object.keys(HF_ARCHITECTURES).join(', ');
  const archs = json.architectures;
  if (Array.isArray(archs) && archs.length > 0) {
    for (const a of archs) {
      const arch = typeof a === 'string' ? HF_ARCHITECTURES[a] : undefined;
      if (arch !== undefined) return arch;
    }
    throw unsupportedError(file, `architecture ${JSON.stringify(archs)} is not supported (supported: ${supported})`);
  }
  const modelType = json.model_type;
  const arch = typeof modelType === 'string' ? MODEL_TYPES[modelType] : undefined;
  if (arch === undefined) {
    throw unsupportedError(
      file,
      `model_type ${JSON.stringify(modelType)} is not supported (supported: ${Object.keys(MODEL_TYPES).join(', ')}; architectures: ${supported})`,
    );
  }
  return arch;
}

/** rope_theta and rope_scaling, from the classic fields or transformers' newer rope_parameters. */
function ropeParameters(
  file: string,
  json: Record<string, unknown>,
  f: Fields,
): { theta: number; scaling: RopeScaling | null } {
  const params = json.rope_parameters;
  if (isPlainObject(params)) {
    const theta = new Fields(file, params, 'rope_parameters.').number('rope_theta') ?? f.number('rope_theta') ?? 10000;
    return { theta, scaling: parseRopeScaling(file, params, 'rope_parameters') };
  }
  const scaling = json.rope_scaling;
  if (scaling !== undefined && scaling !== null && !isPlainObject(scaling)) {
    throw formatError(file, `rope_scaling must be an object or null, got ${JSON.stringify(scaling)}`);
  }
  return { theta: f.number('rope_theta') ?? 10000, scaling: scaling ? parseRopeScaling(file, scaling, 'rope_scaling') : null };
}

function parseRopeScaling(file: string, scaling: Record<string, unknown>, field: string): RopeScaling | null {
  const s = new Fields(file, scaling, `${field}.`);
  const type = s.string('rope_type') ?? s.string('type');
  if (type === undefined || type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: s.requireNumber('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: s.requireNumber('factor'),
      lowFreqFactor: s.requireNumber('low_freq_factor'),
      highFreqFactor: s.requireNumber('high_freq_factor'),
      originalMaxPositionEmbeddings: s.requireInt('original_max_position_embeddings', 1),
    };
  }
  throw unsupportedError(file, `${field} type '${type}' is not supported (supported: default, linear, llama3)`);
}

/** Typed field access whose errors name the file, the field, the expectation and the value. */
class Fields {
  constructor(
    private readonly file: string,
    private readonly json: Record<string, unknown>,
    private readonly prefix = '',
  ) {}

  private bad(key: string, expected: string): Error {
    return formatError(this.file, `'${this.prefix}${key}' must be ${expected}, got ${JSON.stringify(this.json[key])}`);
  }

  number(key: string): number | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.bad(key, 'a number');
    return v;
  }

  requireNumber(key: string): number {
    const v = this.number(key);
    if (v === undefined) throw formatError(this.file, `'${this.prefix}${key}' is required`);
    return v;
  }

  int(key: string, min: number): number | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw this.bad(key, `an integer >= ${min}`);
    return v;
  }

  requireInt(key: string, min: number): number {
    const v = this.int(key, min);
    if (v === undefined) throw formatError(this.file, `'${this.prefix}${key}' is required`);
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw this.bad(key, 'true or false');
    return v;
  }

  string(key: string): string | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.bad(key, 'a string');
    return v;
  }

  tokenId(key: string): number | undefined {
    return this.int(key, 0);
  }

  /** A token id or a list of them (eos_token_id may be either). */
  tokenIds(key: string): number[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((id) => typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)) {
      throw this.bad(key, 'a token id or a list of token ids');
    }
    return [...new Set(list as number[])];
  }
}

export { Fields as HfFields };
