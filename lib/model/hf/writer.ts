// Writes a Hugging Face model directory: config.json, optional generation_config.json, and the
// weights as model.safetensors or as N shards plus model.safetensors.index.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../../errors.js';
import { SAFETENSORS_INDEX_FILE } from '../safetensors/index-file.js';
import { writeSafetensors, type SafetensorsTensorInput } from '../safetensors/writer.js';

export interface HfModelDirOptions {
  /** Written as config.json. */
  config: Record<string, unknown>;
  /** HF-named tensors (model.layers.0.self_attn.q_proj.weight, ...). */
  tensors: SafetensorsTensorInput[];
  generationConfig?: Record<string, unknown>;
  /** Split the tensors over this many shard files (default 1: a single model.safetensors). */
  numShards?: number;
  /** `__metadata__` of every shard (format: pt is added). */
  metadata?: Record<string, string>;
}

export async function writeHfModelDir(dir: string, options: HfModelDirOptions): Promise<void> {
  const numShards = options.numShards ?? 1;
  if (!Number.isInteger(numShards) || numShards < 1 || numShards > Math.max(1, options.tensors.length)) {
    throw invalidArgument('numShards', `an integer in [1, ${options.tensors.length}]`, numShards);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(options.config, null, 2));
  if (options.generationConfig !== undefined) {
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify(options.generationConfig, null, 2));
  }
  const metadata = { format: 'pt', ...options.metadata };
  if (numShards === 1) {
    await writeSafetensors(join(dir, 'model.safetensors'), options.tensors, metadata);
    return;
  }
  const weightMap: Record<string, string> = {};
  const n = options.tensors.length;
  const pad = (n: number): string => String(n).padStart(5, '0');
  for (let s = 0; s < numShards; s++) {
    const file = `model-${pad(s + 1)}-of-${pad(numShards)}.safetensors`;
    // Even split: every shard gets at least one tensor since numShards <= n.
    const part = options.tensors.slice(Math.floor((s * n) / numShards), Math.floor(((s + 1) * n) / numShards));
    for (const t of part) weightMap[t.name] = file;
    await writeSafetensors(join(dir, file), part, metadata);
  }
  await writeFile(join(dir, SAFETENSORS_INDEX_FILE), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
}
