// The synthetic benchmark models (issue 5), written once with the project's GGUF writer and cached.
//   s110m: llama, dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000 (134M parameters)
//   q0.5b: Qwen2.5-0.5B-shaped llama, dim 896, 24 layers, 14 heads, 2 KV heads, ffn 4864, vocab 32000 (415M)
// Weight types: F32, F16, Q8_0, Q4_K. Q4_K needs K % 256 == 0; tensors whose K is not (q0.5b's
// dim 896) fall back to Q4_0 (llama.cpp's quantizer falls back the same way, to Q5_0, for such rows).
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeSyntheticGguf, type SyntheticModelOptions } from '../../lib/model/synthetic.js';
import { requiredTensors } from '../../lib/model/architecture.js';
import { syntheticModelConfig } from '../../lib/model/synthetic.js';
import { DType } from '../../lib/model/types.js';
import { dtypeInfo } from '../../lib/model/dtype-info.js';

export type ModelName = 's110m' | 'q0.5b';
export type WeightType = 'F32' | 'F16' | 'Q8_0' | 'Q4_K';

export const MODEL_NAMES: readonly ModelName[] = ['s110m', 'q0.5b'];
export const WEIGHT_TYPES: readonly WeightType[] = ['F32', 'F16', 'Q8_0', 'Q4_K'];

const SHAPES: Record<ModelName, Omit<SyntheticModelOptions, 'dtype'>> = {
  s110m: { architecture: 'llama', hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 2048, vocabSize: 32000, maxPositionEmbeddings: 4096, seed: 110 },
  'q0.5b': {
    architecture: 'llama',
    hiddenSize: 896,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    intermediateSize: 4864,
    vocabSize: 32000,
    maxPositionEmbeddings: 4096,
    seed: 5,
  },
};

const DTYPE: Record<WeightType, DType> = { F32: DType.F32, F16: DType.F16, Q8_0: DType.Q8_0, Q4_K: DType.Q4_K };

export interface BenchModel {
  name: ModelName;
  type: WeightType;
  path: string;
  /** Bytes of matmul weights read once per decoded token (every 2-D weight but the embedding table). */
  weightBytesPerToken: number;
  /** Multiply-adds of the linear layers per token (the FLOP count is twice this). */
  macsPerToken: number;
  numLayers: number;
}

function options(name: ModelName, type: WeightType): SyntheticModelOptions {
  const base = SHAPES[name];
  return {
    ...base,
    name: `bench-${name}-${type}`,
    dtype: (tensor: string) => tensorType(name, type, tensor),
  };
}

function tensorType(name: ModelName, type: WeightType, tensor: string): DType {
  const shape = tensorShape(name, tensor);
  if (shape.length !== 2) return DType.F32;
  const wanted = DTYPE[type];
  const block = dtypeInfo(wanted).blockSize;
  if (shape[1]! % block !== 0) return DType.Q4_0;
  return wanted;
}

function tensorShape(name: ModelName, tensor: string): number[] {
  const config = syntheticModelConfig({ ...SHAPES[name] }, 'gguf');
  const t = requiredTensors(config).find((r) => r.name === tensor);
  if (!t) throw new Error(`bench model ${name}: no tensor ${tensor}`);
  return t.shape;
}

function describe(name: ModelName, type: WeightType, path: string): BenchModel {
  const config = syntheticModelConfig({ ...SHAPES[name] }, 'gguf');
  let bytes = 0;
  let macs = 0;
  for (const t of requiredTensors(config)) {
    if (t.shape.length !== 2 || t.name === 'token_embd.weight') continue;
    const info = dtypeInfo(tensorType(name, type, t.name));
    const elems = t.shape[0]! * t.shape[1]!;
    bytes += (elems / info.blockSize) * info.blockBytes;
    macs += elems;
  }
  return { name, type, path, weightBytesPerToken: bytes, macsPerToken: macs, numLayers: config.numLayers };
}

/** Writes the model into `dir` unless it is already there; returns its description. */
export async function ensureModel(dir: string, name: ModelName, type: WeightType, log: (line: string) => void): Promise<BenchModel> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${type}.gguf`);
  if (!existsSync(path) || statSync(path).size === 0) {
    const t0 = performance.now();
    log(`writing ${path} ...`);
    const tmp = `${path}.partial`;
    await writeSyntheticGguf(tmp, options(name, type));
    renameSync(tmp, path);
    log(`  ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return describe(name, type, path);
}
