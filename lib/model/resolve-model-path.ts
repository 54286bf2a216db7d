// Turns what a user names as a model (a local path or a hub id) into a local path, downloading
// from the hub into the shared Hugging Face cache when needed.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { KvserveError } from '../errors.js';
import { hubEnv, type HubEnv } from './hub/hub-env.js';
import { parseModelRef } from './hub/model-ref.js';
import { resolveHubModel, type HubDownloadProgress } from './hub/resolve-hub-model.js';

export type ProgressFn = (p: { phase: string; fraction: number; detail?: string }) => void;

export interface ResolveModelPathOptions {
  /** Hub settings over the environment's (HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE). */
  hub?: Partial<HubEnv>;
  /** Non-fatal notices (a retried download, a cached copy used without network). Default: the logger. */
  onWarning?: (message: string) => void;
}

export async function resolveModelPath(
  name: string,
  revision: string,
  onProgress: ProgressFn = () => {},
  options: ResolveModelPathOptions = {},
): Promise<string> {
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
  try {
    return await resolveHubModel(
      { repoId: ref.repoId, revision: ref.revision, file: ref.file, quant: ref.quant },
      {
        env: { ...hubEnv(), ...options.hub },
        onProgress: (p) => onProgress({ phase: 'download', fraction: p.totalBytes ? p.downloadedBytes / p.totalBytes : 0, detail: describeDownload(p) }),
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      },
    );
  } catch (err) {
    // "models/foo" is a hub id in form; when the hub has no such model, say it is no local path either.
    const maybeAbsent = err instanceof KvserveError && (err.code === 'ERR_HUB_NOT_FOUND' || (err.code === 'ERR_HUB_ACCESS_DENIED' && err.message.includes('does not exist')));
    if (err instanceof KvserveError && maybeAbsent && !ref.file && !ref.quant && !err.message.includes('has no revision')) {
      throw new KvserveError(err.code, `${err.message} (No local file or directory is named ${name} either.)`, { cause: err });
    }
    throw err;
  }
}

/** "120.5 MiB / 286.0 MiB at 12.3 MiB/s model.safetensors (2/7)": the numbers first, so a narrow terminal cuts the name. */
export function describeDownload(p: HubDownloadProgress): string {
  const files = p.numFiles > 1 ? ` (${p.fileIndex}/${p.numFiles})` : '';
  const total = p.totalBytes !== null ? ` / ${formatBytes(p.totalBytes)}` : '';
  const speed = p.bytesPerSecond > 0 ? ` at ${formatBytes(p.bytesPerSecond)}/s` : '';
  return `${formatBytes(p.downloadedBytes)}${total}${speed} ${p.file}${files}`;
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
