// The synthetic benchmark models (issue 5's shapes), written once with the project's GGUF writer
// into bench/.models/ and reused.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticGguf, type SyntheticModelOptions } from '../../lib/model/synthetic.js';
import { DType } from '../../lib/model/types.js';

const dir = resolve(fileURLToPath(import.meta.url), '..', '..', '.models');

export const BENCH_SHAPES = {
  s110m: { architecture: 'llama', hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 12, intermediateSize: 2048, vocabSize: 32000 },
  'q0.5b': { architecture: 'llama', hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, vocabSize: 32000 },
} as const satisfies Record<string, Omit<SyntheticModelOptions, 'dtype'>>;

export type BenchShape = keyof typeof BENCH_SHAPES;
export type BenchDtype = 'F32' | 'F16' | 'Q8_0' | 'Q4_K';

const DTYPES: Record<BenchDtype, DType> = { F32: DType.F32, F16: DType.F16, Q8_0: DType.Q8_0, Q4_K: DType.Q4_K };

export async function benchModel(shape: BenchShape, dtype: BenchDtype): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${shape}-${dtype}.gguf`);
  if (existsSync(path)) return path;
  process.stderr.write(`writing ${path}...\n`);
  const tmp = `${path}.tmp-${process.pid}`;
  const d = DTYPES[dtype];
  await writeSyntheticGguf(tmp, {
    ...BENCH_SHAPES[shape],
    maxPositionEmbeddings: 4096,
    seed: 1,
    name: `${shape}-${dtype}`,
    // 1-D tensors stay F32; Q4_K models keep a Q6_K output like llama.cpp's Q4_K_M.
    dtype: (name: string) => (name.endsWith('norm.weight') || name.endsWith('.bias') ? DType.F32 : dtype === 'Q4_K' && name === 'output.weight' ? DType.Q6_K : d),
  });
  renameSync(tmp, path);
  return path;
}
