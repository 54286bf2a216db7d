// Turns what a user names as a model (a local path or a hub id) into a local path, downloading
// from the hub into the shared Hugging Face cache when needed.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { KvserveError } from '../errors.js';
import { parseModelRef } from './hub/model-ref.js';
import { resolveHubModel } from './hub/resolve-hub-model.js';

export type ProgressFn = (p: { phase: string; fraction: number; detail?: string }) => void;

export async function resolveModelPath(name: string, revision: string, onProgress: ProgressFn = () => {}): Promise<string> {
  const ref = parseModelRef(name, revision);
  if (ref.kind === 'local') {
    if (!existsSync(ref.path)) {
      throw new KvserveError(
        'ERR_MODEL_NOT_FOUND',
        `${ref.path}: no such file or directory (give a GGUF file, a Hugging Face model directory, or a hub id such as org/name)`,
      );
    }
    return resolve(ref.path);
  }
  return resolveHubModel(
    { repoId: ref.repoId, revision: ref.revision, file: ref.file, quant: ref.quant },
    {
      onProgress: (p) =>
        onProgress({
          phase: 'download',
          fraction: p.totalBytes ? p.downloadedBytes / p.totalBytes : 0,
          detail: `${p.file} ${formatBytes(p.downloadedBytes)}${p.totalBytes ? ` / ${formatBytes(p.totalBytes)}` : ''}${p.bytesPerSecond ? ` at ${formatBytes(p.bytesPerSecond)}/s` : ''}`,
        }),
    },
  );
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
