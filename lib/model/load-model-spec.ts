// The one entry point for finding a model on disk: a .gguf file, an HF directory (config.json +
// safetensors) or one of its files, or a directory holding exactly one .gguf file.
import { existsSync, readdirSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KvserveError } from '../errors.js';
import { ioError } from './format-error.js';
import { readGguf } from './gguf/reader.js';
import { ggufToModelSpec } from './gguf/to-spec.js';
import { HF_CONFIG_FILE, loadHfModelSpec } from './hf/to-spec.js';
import type { ModelSpec } from './types.js';

export async function loadModelSpec(pathOrDir: string): Promise<ModelSpec> {
  let stats: Stats;
  try {
    stats = statSync(pathOrDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KvserveError('ERR_MODEL_NOT_FOUND', `model path does not exist: ${pathOrDir}`, { cause: error });
    }
    throw ioError(pathOrDir, error);
  }
  if (stats.isFile()) {
    // A file of an HF checkpoint (config.json, a shard) stands for its directory.
    const dir = dirname(pathOrDir);
    const hfFile = /(\.safetensors|\.safetensors\.index\.json|^config\.json)$/.test(basename(pathOrDir));
    if (hfFile && existsSync(join(dir, HF_CONFIG_FILE))) {
      return loadHfModelSpec(dir);
    }
    return ggufToModelSpec(await readGguf(pathOrDir));
  }
  if (!stats.isDirectory()) {
    throw new KvserveError('ERR_MODEL_NOT_FOUND', `${pathOrDir}: neither a model file nor a directory`);
  }
  let names: string[];
  try {
    names = readdirSync(pathOrDir);
  } catch (error) {
    throw ioError(pathOrDir, error);
  }
  if (names.includes(HF_CONFIG_FILE)) return loadHfModelSpec(pathOrDir);
  const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return ggufToModelSpec(await readGguf(join(pathOrDir, ggufs[0]!)));
  if (ggufs.length > 1) {
    throw new KvserveError(
      'ERR_MODEL_NOT_FOUND',
      `${pathOrDir}: holds ${ggufs.length} .gguf files (${ggufs.join(', ')}); pass the one to load`,
    );
  }
  throw new KvserveError(
    'ERR_MODEL_NOT_FOUND',
    `${pathOrDir}: no model here (expected ${HF_CONFIG_FILE} with safetensors weights, or a .gguf file)`,
  );
}
