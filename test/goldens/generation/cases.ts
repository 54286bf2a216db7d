// The models checked token for token against llama.cpp: the real GGUFs in ../shared/models and
// synthetic random-weight GGUFs written by the project's own writer (every architecture feature and
// weight type, odd shapes). scripts/goldens/generation-goldens.ts runs llama.cpp on each and writes
// <name>.json beside this file; test/e2e/llama-cpp-agreement.test.ts checks kvserve against them.
import { DType } from '../../../lib/model/types.js';
import type { SyntheticModelOptions } from '../../../lib/model/synthetic.js';
import { MODELS } from '../../helpers/models.js';

export interface GoldenCase {
  name: string;
  /** A shared model (relative to the models dir) or a synthetic one written at test time. */
  shared?: string;
  synthetic?: SyntheticModelOptions;
  /** The built-in demo model (lib/model/demo), generated at test time. */
  demo?: true;
  /** Prompt text tokenized by llama.cpp (with BOS), or explicit ids for synthetic vocabularies. */
  prompt?: string;
  promptTokenIds?: number[];
  numTokens: number;
  /**
   * Compare the first step's logits within 1e-3: F32 weights, and TinyStories-656K Q8_0 (kvserve quantizes
   * activations exactly as llama.cpp's x86 build does, ties included: measured ~5e-6).
   */
  checkLogits: boolean;
}

const base = { architecture: 'llama', numLayers: 2, vocabSize: 320, seed: 7 } as const;
const prompt = [1, 260, 261, 262, 300, 301, 259, 270, 280, 290, 310, 311];

export const GOLDEN_CASES: GoldenCase[] = [
  { name: 'stories260K', shared: MODELS.stories260kGguf, prompt: 'Once upon a time', numTokens: 128, checkLogits: true },
  { name: 'tinystories-656K-q8_0', shared: MODELS.tinystoriesQ8Gguf, prompt: 'Once upon a time', numTokens: 128, checkLogits: true },
  { name: 'kvserve-demo', demo: true, prompt: 'Hello', numTokens: 64, checkLogits: true },
  { name: 'llama-2-tiny-random-f16', shared: MODELS.tinyRandomGguf, prompt: 'The quick brown fox jumps over the lazy dog.', numTokens: 128, checkLogits: false },
  {
    name: 'syn-llama-f32-gqa2-ffn172',
    synthetic: { ...base, hiddenSize: 64, numHeads: 4, numKvHeads: 2, intermediateSize: 172, dtype: DType.F32 },
    promptTokenIds: prompt, numTokens: 64, checkLogits: true,
  },
  {
    name: 'syn-llama-f32-gqa8-hd16',
    synthetic: { ...base, hiddenSize: 128, numHeads: 8, numKvHeads: 1, headDim: 16, intermediateSize: 96, dtype: DType.F32 },
    promptTokenIds: prompt, numTokens: 64, checkLogits: true,
  },
  {
    name: 'syn-llama-f32-hd128-tied',
    synthetic: { ...base, hiddenSize: 256, numHeads: 2, numKvHeads: 2, headDim: 128, intermediateSize: 160, tiedEmbeddings: true, dtype: DType.F32 },
    promptTokenIds: prompt, numTokens: 64, checkLogits: true,
  },
  {
    name: 'syn-llama3-rope-scaling-f32',
    synthetic: {
      ...base, hiddenSize: 64, numHeads: 4, numKvHeads: 4, intermediateSize: 128, ropeTheta: 500000, dtype: DType.F32,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 },
    },
    promptTokenIds: prompt, numTokens: 64, checkLogits: true,
  },
  {
    name: 'syn-qwen2-bias-f32',
    synthetic: { ...base, architecture: 'qwen2', hiddenSize: 64, numHeads: 4, numKvHeads: 2, intermediateSize: 96, ropeTheta: 1000000, dtype: DType.F32 },
    promptTokenIds: prompt, numTokens: 64, checkLogits: true,
  },
  {
    name: 'syn-qwen3-qknorm-f32',
    synthetic: { ...base, architecture: 'qwen3', hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 32, intermediateSize: 96, rmsNormEps: 1e-6, dtype: DType.F32 },
    promptTokenIds: prompt, numTokens: 64, checkLogits: true,
  },
  { name: 'syn-llama-f16', synthetic: { ...base, hiddenSize: 64, numHeads: 4, numKvHeads: 2, intermediateSize: 172, dtype: DType.F16 }, promptTokenIds: prompt, numTokens: 64, checkLogits: false },
  { name: 'syn-llama-bf16', synthetic: { ...base, hiddenSize: 64, numHeads: 4, numKvHeads: 2, intermediateSize: 172, dtype: DType.BF16 }, promptTokenIds: prompt, numTokens: 64, checkLogits: false },
  { name: 'syn-llama-q8_0', synthetic: { ...base, hiddenSize: 128, numHeads: 4, numKvHeads: 2, intermediateSize: 352, dtype: DType.Q8_0 }, promptTokenIds: prompt, numTokens: 64, checkLogits: false },
  { name: 'syn-llama-q4_0', synthetic: { ...base, hiddenSize: 128, numHeads: 4, numKvHeads: 2, intermediateSize: 352, dtype: DType.Q4_0 }, promptTokenIds: prompt, numTokens: 64, checkLogits: false },
  { name: 'syn-llama-q4_k', synthetic: { ...base, hiddenSize: 256, numHeads: 4, numKvHeads: 2, intermediateSize: 512, dtype: DType.Q4_K }, promptTokenIds: prompt, numTokens: 64, checkLogits: false },
  { name: 'syn-llama-q6_k', synthetic: { ...base, hiddenSize: 256, numHeads: 4, numKvHeads: 2, intermediateSize: 512, dtype: DType.Q6_K }, promptTokenIds: prompt, numTokens: 64, checkLogits: false },
  {
    name: 'syn-qwen2-q4_k_m-mix',
    synthetic: {
      ...base, architecture: 'qwen2', hiddenSize: 256, numHeads: 4, numKvHeads: 1, intermediateSize: 768,
      // Like llama.cpp's Q4_K_M: Q6_K for attn_v, ffn_down and the output, Q4_K elsewhere, Q8_0 embeddings.
      dtype: (name: string) =>
        name.endsWith('.bias') || name.endsWith('norm.weight') ? DType.F32 : name === 'token_embd.weight' ? DType.Q8_0 : /attn_v|ffn_down|^output\./.test(name) ? DType.Q6_K : DType.Q4_K,
    },
    promptTokenIds: prompt, numTokens: 64, checkLogits: false,
  },
];
