// The synthetic benchmark models (issue 5's shapes), written once with the project's GGUF writer
// into bench/.models/ and reused.
//   s110m: llama, dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000 (134M parameters)
//   q0.5b: Qwen2.5-0.5B-shaped llama, dim 896, 24 layers, 14 heads, 2 KV heads, ffn 4864, vocab 32000 (415M)
// 1-D tensors stay F32. Q4_K models keep a Q6_K output like llama.cpp's Q4_K_M, and tensors whose
// row length is not a multiple of 256 (q0.5b's dim 896) fall back to Q4_0, as llama.cpp's quantizer
// falls back (to Q5_0, which kvserve does not read) for such rows.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requiredTensors } from '../../lib/model/architecture.js';
import { dtypeInfo } from '../../lib/model/dtype-info.js';
import { syntheticModelConfig, writeSyntheticGguf, type SyntheticModelOptions } from '../../lib/model/synthetic.js';
import { DType } from '../../lib/model/types.js';

const dir = resolve(fileURLToPath(import.meta.url), '..', '..', '.models');

export const BENCH_SHAPES = {
  s110m: { architecture: 'llama', hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 12, intermediateSize: 2048, vocabSize: 32000 },
  'q0.5b': { architecture: 'llama', hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, vocabSize: 32000 },
} as const satisfies Record<string, Omit<SyntheticModelOptions, 'dtype'>>;

export type BenchShape = keyof typeof BENCH_SHAPES;
export type BenchDtype = 'F32' | 'F16' | 'Q8_0' | 'Q4_K';
export const BENCH_SHAPE_NAMES = Object.keys(BENCH_SHAPES) as BenchShape[];
export const BENCH_DTYPES: readonly BenchDtype[] = ['F32', 'F16', 'Q8_0', 'Q4_K'];

const DTYPES: Record<BenchDtype, DType> = { F32: DType.F32, F16: DType.F16, Q8_0: DType.Q8_0, Q4_K: DType.Q4_K };

function options(shape: BenchShape): SyntheticModelOptions {
  return { ...BENCH_SHAPES[shape], maxPositionEmbeddings: 4096, seed: 1 };
}

/** The stored type of one tensor of a bench model. */
export function benchTensorDtype(shape: BenchShape, dtype: BenchDtype, name: string, dims: readonly number[]): DType {
  if (dims.length !== 2) return DType.F32;
  const d = dtype === 'Q4_K' && name === 'output.weight' ? DType.Q6_K : DTYPES[dtype];
  return (dims[1] as number) % dtypeInfo(d).blockSize === 0 ? d : DType.Q4_0;
}

export async function benchModel(shape: BenchShape, dtype: BenchDtype): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${shape}-${dtype}.gguf`);
  if (existsSync(path)) return path;
  process.stderr.write(`writing ${path}...\n`);
  const tmp = `${path}.tmp-${process.pid}`;
  const opts = options(shape);
  const shapes = new Map(requiredTensors(syntheticModelConfig(opts, 'gguf')).map((t) => [t.name, t.shape]));
  await writeSyntheticGguf(tmp, {
    ...opts,
    name: `${shape}-${dtype}`,
    dtype: (name: string) => benchTensorDtype(shape, dtype, name, shapes.get(name) ?? []),
  });
  renameSync(tmp, path);
  return path;
}

/** What one decoded token costs: every 2-D weight but the embedding table is read once. */
export interface TokenCost {
  /** Bytes of matmul weights read per token (the bandwidth bound of single-sequence decode). */
  weightBytes: number;
  /** Multiply-adds of the linear layers per token (FLOPs are twice this). */
  macs: number;
  numLayers: number;
}

export function tokenCost(shape: BenchShape, dtype: BenchDtype): TokenCost {
  const config = syntheticModelConfig(options(shape), 'gguf');
  let weightBytes = 0;
  let macs = 0;
  for (const t of requiredTensors(config)) {
    if (t.shape.length !== 2 || t.name === 'token_embd.weight') continue;
    const info = dtypeInfo(benchTensorDtype(shape, dtype, t.name, t.shape));
    const elems = (t.shape[0] as number) * (t.shape[1] as number);
    weightBytes += (elems / info.blockSize) * info.blockBytes;
    macs += elems;
  }
  return { weightBytes, macs, numLayers: config.numLayers };
}
