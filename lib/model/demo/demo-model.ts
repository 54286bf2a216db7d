// The built-in demo model: a small LLaMA (2.5 M parameters) with deterministic synthetic weights and
// a byte-level BPE tokenizer with a ChatML template, generated on first use into kvserve's cache
// (no download), so that `kvserve generate` and `kvserve serve` work with no model named. Its output
// is meaningless by construction: the weights are pseudo-random.
//
// One design choice keeps that output printable: hidden dimension 0 is a constant 1 in every token
// embedding and no layer writes to it (row 0 of attn_output and ffn_down is zero), so after the final
// RMSNorm it is always positive. The output matrix gives every token the model should never emit
// (bytes, word fragments, <|im_start|>) a large negative weight on that dimension: their logits stay
// far below those of whole words, punctuation and <|im_end|>, at any temperature.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { kvserveCacheDir } from '../../config.js';
import { requiredTensors } from '../architecture.js';
import { ggufF32, ggufString, ggufU32, type GgufValue } from '../gguf/value.js';
import { writeGguf, type GgufTensorInput } from '../gguf/writer.js';
import { prng } from '../synthetic.js';
import { DType, type ModelConfig } from '../types.js';
import { buildDemoVocab, demoVocabMetadata, type DemoVocab } from './demo-vocab.js';

/** Bump when the generated file changes: each version lives in its own cache folder. */
export const DEMO_MODEL_VERSION = 1;
export const DEMO_MODEL_NAME = 'kvserve-demo';

const SEED = 20240917;
const SUPPRESSED_WEIGHT = -200;
/** A small handicap for <|im_end|>, so that a reply is not often empty. */
const END_OF_TURN_WEIGHT = -1;

const SHAPE = { hiddenSize: 256, numLayers: 4, numHeads: 8, numKvHeads: 2, intermediateSize: 512, contextLength: 1024 };

function demoConfig(vocabSize: number): ModelConfig {
  return {
    architecture: 'llama',
    hiddenSize: SHAPE.hiddenSize,
    numLayers: SHAPE.numLayers,
    numHeads: SHAPE.numHeads,
    numKvHeads: SHAPE.numKvHeads,
    headDim: SHAPE.hiddenSize / SHAPE.numHeads,
    intermediateSize: SHAPE.intermediateSize,
    vocabSize,
    maxPositionEmbeddings: SHAPE.contextLength,
    rmsNormEps: Math.fround(1e-5),
    ropeTheta: 10000,
    ropeLayout: 'norm',
    ropeDim: SHAPE.hiddenSize / SHAPE.numHeads,
    ropeScaling: null,
    ropeFreqFactors: false,
    qkvBias: false,
    attnOutputBias: false,
    qkNorm: false,
    tiedEmbeddings: false,
    bosTokenId: null,
    eosTokenIds: [],
  };
}

/** Uniform values in [-scale, scale) from the tensor's own seeded stream. */
function uniform(name: string, n: number, scale: number): Float32Array {
  const random = prng(SEED, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * random() - 1) * scale;
  return out;
}

function tensorValues(vocab: DemoVocab, name: string, shape: number[]): Float32Array {
  const [rows, cols = 1] = shape as [number, number?];
  if (name.endsWith('norm.weight')) {
    const w = uniform(name, rows, 0.1);
    for (let i = 0; i < rows; i++) w[i] = 1 + (w[i] as number);
    return w;
  }
  if (name === 'token_embd.weight') {
    const w = uniform(name, rows * cols, 1);
    for (let t = 0; t < rows; t++) w[t * cols] = 1; // the constant dimension
    return w;
  }
  if (name === 'output.weight') {
    const w = uniform(name, rows * cols, 3 / Math.sqrt(cols));
    const emitted = new Set(vocab.emitted);
    for (let t = 0; t < rows; t++) {
      if (emitted.has(t)) w[t * cols] = t === vocab.imEndId ? END_OF_TURN_WEIGHT : 0;
      else w.fill(0, t * cols, (t + 1) * cols).fill(SUPPRESSED_WEIGHT, t * cols, t * cols + 1);
    }
    return w;
  }
  // Sharper attention (larger q and k) makes the output depend more on the context and loop less.
  const gain = name.endsWith('attn_q.weight') || name.endsWith('attn_k.weight') ? 3 : 1;
  const w = uniform(name, rows * cols, gain / Math.sqrt(cols));
  // Nothing is added to the constant dimension of the residual stream.
  if (name.endsWith('attn_output.weight') || name.endsWith('ffn_down.weight')) w.fill(0, 0, cols);
  return w;
}

/** Writes the demo GGUF to `path` (about 10 MB, F32). */
export async function writeDemoGguf(path: string): Promise<void> {
  const vocab = buildDemoVocab();
  const config = demoConfig(vocab.tokens.length);
  const key = (k: string) => `llama.${k}`;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', ggufString('llama')],
    ['general.name', ggufString(DEMO_MODEL_NAME)],
    ['general.description', ggufString('kvserve built-in demo model: synthetic random weights, meaningless output')],
    ['general.file_type', ggufU32(0)],
    [key('context_length'), ggufU32(config.maxPositionEmbeddings)],
    [key('embedding_length'), ggufU32(config.hiddenSize)],
    [key('block_count'), ggufU32(config.numLayers)],
    [key('feed_forward_length'), ggufU32(config.intermediateSize)],
    [key('attention.head_count'), ggufU32(config.numHeads)],
    [key('attention.head_count_kv'), ggufU32(config.numKvHeads)],
    [key('attention.layer_norm_rms_epsilon'), ggufF32(config.rmsNormEps)],
    [key('rope.freq_base'), ggufF32(config.ropeTheta)],
    [key('rope.dimension_count'), ggufU32(config.ropeDim)],
    [key('vocab_size'), ggufU32(config.vocabSize)],
    ...demoVocabMetadata(vocab),
  ];
  const tensors: GgufTensorInput[] = requiredTensors(config).map((req) => ({
    name: req.name,
    ne: [...req.shape].reverse(),
    dtype: DType.F32,
    data: () => tensorValues(vocab, req.name, req.shape),
  }));
  await writeGguf(path, { metadata, tensors });
}

/** Where the demo model of this version lives under a cache root (default: kvserve's cache). */
export function demoModelPath(cacheDir: string = kvserveCacheDir()): string {
  return join(cacheDir, 'demo', `v${DEMO_MODEL_VERSION}`, `${DEMO_MODEL_NAME}.gguf`);
}

/**
 * The demo model's path, generated first if absent. Concurrent first runs are safe: each writes its
 * own temporary file and renames it into place (atomic; all writers produce the same bytes).
 */
export async function ensureDemoModel(cacheDir?: string): Promise<{ path: string; created: boolean }> {
  const path = demoModelPath(cacheDir);
  if (existsSync(path)) return { path, created: false };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeDemoGguf(tmp);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path, created: true };
}
