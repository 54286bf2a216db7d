// The format-independent description of a model: what the native runner needs to map weights and
// run the forward pass. Both the GGUF reader and the HF-directory reader produce a ModelSpec.

/** Weight/tensor element types understood by the native kernels. Values match native/core/dtype.h. */
export enum DType {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  Q8_0 = 3,
  Q4_0 = 4,
  Q4_K = 5,
  Q6_K = 6,
}

/** Rotary embedding layout: 'neox' rotates halves (HF rotate_half); 'norm' rotates adjacent pairs (GGUF llama). */
export type RopeLayout = 'neox' | 'norm';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3';

/** llama3-style RoPE frequency scaling (HF rope_scaling.rope_type = "llama3"). */
export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** Linear position scaling (rope_scaling.type = "linear" / GGUF rope.scaling.type = linear). */
export interface LinearRopeScaling {
  type: 'linear';
  factor: number;
}

export type RopeScaling = Llama3RopeScaling | LinearRopeScaling;

export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number; // dim
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number; // ffn hidden
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeLayout: RopeLayout;
  /** Number of leading dims of each head that are rotated (== headDim for all supported models). */
  ropeDim: number;
  ropeScaling: RopeScaling | null;
  /**
   * The model has a `rope_freqs.weight` tensor ([ropeDim / 2], F32/F16/BF16): rotary frequency i
   * is divided by factor i. This is how GGUF stores llama3 RoPE scaling (ropeScaling is then
   * null); llama3RopeFreqFactors() computes the same factors from an HF rope_scaling config.
   */
  ropeFreqFactors: boolean;
  /** Q/K/V projections carry a bias (Qwen2; HF llama/qwen3 with attention_bias). */
  qkvBias: boolean;
  /**
   * The attention output projection carries a bias `blk.{i}.attn_output.bias` [hiddenSize]
   * (HF llama/qwen3 with attention_bias = true; never Qwen2).
   */
  attnOutputBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  /** The output projection reuses the token embedding matrix. */
  tiedEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/**
 * One tensor's bytes inside one of the model's files. Names are canonical (GGUF-style):
 *   token_embd.weight, output_norm.weight, output.weight,
 *   blk.{i}.attn_norm.weight, blk.{i}.attn_q.weight, blk.{i}.attn_k.weight, blk.{i}.attn_v.weight,
 *   blk.{i}.attn_q.bias, blk.{i}.attn_k.bias, blk.{i}.attn_v.bias,
 *   blk.{i}.attn_q_norm.weight, blk.{i}.attn_k_norm.weight, blk.{i}.attn_output.weight,
 *   blk.{i}.ffn_norm.weight, blk.{i}.ffn_gate.weight, blk.{i}.ffn_up.weight, blk.{i}.ffn_down.weight
 * Shapes are row-major, outermost first: a linear layer's weight is [outFeatures, inFeatures]
 * (the reverse of GGUF's ne[] order).
 */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
  /** Index into ModelSpec.files. */
  fileIndex: number;
  /** Absolute byte offset of the first element within that file. */
  offset: number;
  /** Exact byte length (validated against shape and dtype). */
  byteLength: number;
}

export interface GenerationDefaults {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
  eosTokenIds?: number[];
  bosTokenId?: number;
}

export interface ModelSpec {
  /** Where the model came from (GGUF file or HF directory). */
  source: string;
  format: 'gguf' | 'hf';
  /** Absolute paths of the files that hold tensor bytes (memory-mapped by native code). */
  files: string[];
  config: ModelConfig;
  tensors: TensorSpec[];
  generationDefaults: GenerationDefaults;
  /** Model name for display (GGUF general.name, HF _name_or_path or the directory name). */
  name: string;
}
