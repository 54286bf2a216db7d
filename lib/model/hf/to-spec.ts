// A Hugging Face model directory (config.json, safetensors weights in one file or sharded with
// model.safetensors.index.json, optional generation_config.json) -> ModelSpec. Tensor names are
// mapped to canonical names; weights are NOT permuted (HF keeps rotate_half order: 'neox').
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { validateConfig, validateModelTensors, type AvailableTensor } from '../architecture.js';
import { formatError, ioError, missingTensorError, unsupportedError } from '../format-error.js';
import { SAFETENSORS_INDEX_FILE, readSafetensorsIndex, type SafetensorsIndex } from '../safetensors/index-file.js';
import { readSafetensorsSync, type SafetensorsFile, type SafetensorsTensorInfo } from '../safetensors/reader.js';
import type { ModelSpec, TensorSpec } from '../types.js';
import { parseHfConfig } from './config.js';
import { GENERATION_CONFIG_FILE, parseGenerationConfig } from './generation-config.js';
import { canonicalTensorName } from './tensor-names.js';

export const HF_CONFIG_FILE = 'config.json';
const SINGLE_FILE = 'model.safetensors';
const MAX_JSON_BYTES = 16 * 1024 * 1024;

interface Located {
  fileIndex: number;
  info: SafetensorsTensorInfo;
}

export async function loadHfModelSpec(dir: string): Promise<ModelSpec> {
  return loadHfModelSpecSync(dir);
}

export function loadHfModelSpecSync(dir: string): ModelSpec {
  const root = resolve(dir);
  const configPath = join(root, HF_CONFIG_FILE);
  const { config, nameOrPath } = parseHfConfig(configPath, readJson(configPath));
  const generationPath = join(root, GENERATION_CONFIG_FILE);
  const generationDefaults = existsSync(generationPath)
    ? parseGenerationConfig(generationPath, readJson(generationPath))
    : {};

  const { names, index } = locateShards(root);
  const shards = names.map((name) => readSafetensorsSync(join(root, name)));
  const stored = collectTensors(root, shards, index);

  // Canonical name -> stored tensor. Aliases from __metadata__ (how safetensors records a tensor
  // dropped because it shared memory with another) resolve to the stored bytes.
  const canonical = new Map<string, Located>();
  const aliases = new Map<string, string>();
  for (const shard of shards) {
    for (const [from, to] of Object.entries(shard.metadata)) {
      if (!stored.has(from) && stored.has(to) && typeof canonicalTensorName(from) === 'string') aliases.set(from, to);
    }
  }
  const add = (hfName: string, located: Located): void => {
    const name = canonicalTensorName(hfName);
    if (name === null) return;
    if (name === undefined) {
      throw unsupportedError(
        shards[located.fileIndex]!.path,
        `tensor '${hfName}' is not a parameter kvserve knows for ${config.architecture}`,
      );
    }
    canonical.set(name, located);
  };
  for (const [hfName, located] of stored) add(hfName, located);
  for (const [from, to] of aliases) add(from, stored.get(to)!);

  // Tied embeddings: one matrix serves as embedding and output projection. A checkpoint may store
  // it as embed_tokens, as lm_head (then the embedding reads lm_head's bytes), or both.
  const embd = canonical.get('token_embd.weight');
  const head = canonical.get('output.weight');
  if (embd === undefined && head === undefined) {
    throw missingTensorError(root, "neither 'model.embed_tokens.weight' nor 'lm_head.weight' is stored");
  }
  if (embd === undefined) {
    canonical.set('token_embd.weight', head!);
    canonical.delete('output.weight');
    config.tiedEmbeddings = true;
  } else if (head === undefined) {
    config.tiedEmbeddings = true;
  } else if (config.tiedEmbeddings || sameBytes(embd, head)) {
    canonical.delete('output.weight');
    config.tiedEmbeddings = true;
  }

  const eos = new Set([...config.eosTokenIds, ...(generationDefaults.eosTokenIds ?? [])]);
  config.eosTokenIds = [...eos];
  if (config.bosTokenId === null && generationDefaults.bosTokenId !== undefined) {
    config.bosTokenId = generationDefaults.bosTokenId;
  }

  validateConfig(configPath, config);
  const available = new Map<string, AvailableTensor>();
  for (const [name, located] of canonical) available.set(name, { dtype: located.info.dtype, shape: located.info.shape });
  const required = validateModelTensors(root, config, available);
  const tensors: TensorSpec[] = required.map((req) => {
    const { fileIndex, info } = canonical.get(req.name)!;
    const { dtype, shape, offset, byteLength } = info;
    return { name: req.name, dtype, shape, fileIndex, offset, byteLength };
  });
  return {
    source: root,
    format: 'hf',
    files: shards.map((s) => resolve(s.path)),
    config,
    tensors,
    generationDefaults,
    name: nameOrPath ?? basename(root),
  };
}

/** Shard file names: from the index when sharded, else the single safetensors file. */
function locateShards(root: string): { names: string[]; index?: SafetensorsIndex } {
  if (existsSync(join(root, SAFETENSORS_INDEX_FILE))) {
    const index = readSafetensorsIndex(join(root, SAFETENSORS_INDEX_FILE));
    if (index.shards.length === 0) throw formatError(index.path, 'weight_map is empty');
    return { names: index.shards, index };
  }
  if (existsSync(join(root, SINGLE_FILE))) return { names: [SINGLE_FILE] };
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (error) {
    throw ioError(root, error);
  }
  const safetensors = names.filter((n) => n.endsWith('.safetensors')).sort();
  if (safetensors.length === 1) return { names: safetensors };
  if (safetensors.length > 1) {
    throw formatError(root, `has ${safetensors.length} .safetensors files but no ${SAFETENSORS_INDEX_FILE} saying which tensors each holds`);
  }
  if (names.some((n) => n.endsWith('.bin') || n.endsWith('.pt') || n.endsWith('.pth'))) {
    throw unsupportedError(root, 'only safetensors weights are supported (found PyTorch pickle files); convert them to safetensors');
  }
  throw missingTensorError(root, `has no ${SINGLE_FILE} or ${SAFETENSORS_INDEX_FILE}`);
}

/** HF name -> where it is stored, checking the index (if any) agrees with the shards. */
function collectTensors(root: string, shards: SafetensorsFile[], index: SafetensorsIndex | undefined): Map<string, Located> {
  const stored = new Map<string, Located>();
  shards.forEach((shard, fileIndex) => {
    for (const info of shard.tensors) {
      if (stored.has(info.name)) {
        const first = basename(shards[stored.get(info.name)!.fileIndex]!.path);
        throw formatError(root, `tensor '${info.name}' is stored in both ${first} and ${basename(shard.path)}`);
      }
      stored.set(info.name, { fileIndex, info });
    }
  });
  if (index !== undefined) {
    for (const [name, shard] of index.weightMap) {
      const located = stored.get(name);
      if (located === undefined || basename(shards[located.fileIndex]!.path) !== shard) {
        throw formatError(index.path, `weight_map puts '${name}' in ${shard}, but ${shard} does not contain it`);
      }
    }
  }
  return stored;
}

function sameBytes(a: Located, b: Located): boolean {
  return a.fileIndex === b.fileIndex && a.info.offset === b.info.offset;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_JSON_BYTES) throw formatError(path, `is ${bytes.length} bytes, over the ${MAX_JSON_BYTES}-byte limit`);
    text = bytes.toString('utf8');
  } catch (error) {
    throw ioError(path, error);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw formatError(path, `is not valid JSON (${(error as Error).message})`);
  }
}
