// Sharded safetensors checkpoints: model.safetensors.index.json maps every tensor name to the shard
// file that holds it ({"metadata": {...}, "weight_map": {name: "model-00001-of-00002.safetensors"}}).
import { readFileSync } from 'node:fs';
import { formatError, ioError } from '../format-error.js';
import { isPlainObject } from './reader.js';

export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

export interface SafetensorsIndex {
  path: string;
  metadata: Record<string, unknown>;
  /** Tensor name -> shard file name (a plain file name in the same directory). */
  weightMap: Map<string, string>;
  /** Distinct shard file names, in first-use order. */
  shards: string[];
}

const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export function readSafetensorsIndex(path: string): SafetensorsIndex {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_INDEX_BYTES) throw formatError(path, `index file is ${bytes.length} bytes, over the ${MAX_INDEX_BYTES}-byte limit`);
    text = bytes.toString('utf8');
  } catch (error) {
    throw ioError(path, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw formatError(path, `not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json) || !isPlainObject(json.weight_map)) {
    throw formatError(path, "expected an object with a 'weight_map' object");
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [name, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || shard === '' || /[/\\]/.test(shard) || shard === '.' || shard === '..') {
      throw formatError(path, `weight_map['${name}'] must be a shard file name in the same directory, got ${JSON.stringify(shard)}`);
    }
    weightMap.set(name, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  const metadata = isPlainObject(json.metadata) ? json.metadata : {};
  return { path, metadata, weightMap, shards };
}
