// Resolves a hub model id to a local path in the Hugging Face cache, downloading only the files a
// model needs: config, tokenizer and generation config, and the safetensors shards the index names
// (HF repositories), or the one selected GGUF file (GGUF repositories).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvserveError } from '../../errors.js';
import { downloadBlob, type DownloadProgress } from './download-file.js';
import { cachedCommit, linkSnapshotFile, repoCacheDir, snapshotFiles, writeRef } from './hub-cache.js';
import { hubEnv, type HubEnv } from './hub-env.js';
import { fetchFileMeta, fetchRepoInfo } from './hub-http.js';
import { pickGgufForQuant } from './model-ref.js';

const HF_SIDE_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export interface HubModelRequest {
  repoId: string;
  revision: string;
  /** A GGUF file name, or null. */
  file: string | null;
  /** A quantization tag picking a GGUF file, or null. */
  quant: string | null;
}

export interface ResolveOptions {
  env?: HubEnv;
  onProgress?: (p: DownloadProgress) => void;
}

/** Returns the local path to load: a GGUF file or a snapshot directory. */
export async function resolveHubModel(req: HubModelRequest, opts: ResolveOptions = {}): Promise<string> {
  const env = opts.env ?? hubEnv();
  const repoDir = repoCacheDir(env.cacheDir, req.repoId);
  if (env.offline) return resolveOffline(env, repoDir, req);

  const info = await fetchRepoInfo(env, req.repoId, req.revision);
  const commit = info.sha;
  const wanted = selectFiles(req, info.files);
  const snapshot = join(repoDir, 'snapshots', commit);
  const fetchOne = async (file: string) => {
    const meta = await fetchFileMeta(env, req.repoId, commit, file);
    await downloadBlob(env, repoDir, req.repoId, commit, file, meta, opts.onProgress);
    linkSnapshotFile(repoDir, commit, file, meta.etag);
  };
  for (const file of wanted.files) await fetchOne(file);
  if (wanted.index) {
    await fetchOne(wanted.index);
    for (const shard of shardsOf(join(snapshot, wanted.index))) await fetchOne(shard);
  }
  writeRef(repoDir, req.revision, commit);
  return wanted.gguf ? join(snapshot, wanted.gguf) : snapshot;
}

function selectFiles(req: HubModelRequest, files: string[]): { files: string[]; index: string | null; gguf: string | null } {
  const has = new Set(files);
  const name = `${req.repoId}@${req.revision}`;
  if (req.file || req.quant) {
    const gguf = req.file ?? pickGgufForQuant(files, req.quant as string);
    if (!gguf || !has.has(gguf)) {
      const available = files.filter((f) => f.endsWith('.gguf'));
      throw new KvserveError(
        'ERR_HUB_DOWNLOAD',
        `${name}: no GGUF file ${req.file ? `named ${req.file}` : `for quantization ${req.quant}`}; available: ${available.join(', ') || 'none'}`,
      );
    }
    return { files: [gguf], index: null, gguf };
  }
  if (has.has('config.json')) {
    const side = HF_SIDE_FILES.filter((f) => has.has(f));
    if (has.has('model.safetensors')) return { files: [...side, 'model.safetensors'], index: null, gguf: null };
    if (has.has('model.safetensors.index.json')) return { files: side, index: 'model.safetensors.index.json', gguf: null };
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${name}: has config.json but no model.safetensors or model.safetensors.index.json (other weight formats are not supported)`);
  }
  const ggufs = files.filter((f) => f.endsWith('.gguf'));
  if (ggufs.length === 1) return { files: ggufs, index: null, gguf: ggufs[0] as string };
  if (ggufs.length > 1) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${name}: several GGUF files; pick one as ${req.repoId}:<file.gguf> or a quantization tag such as ${req.repoId}:Q4_K_M. Available: ${ggufs.join(', ')}`);
  }
  throw new KvserveError('ERR_HUB_DOWNLOAD', `${name}: neither a Hugging Face model directory (config.json) nor GGUF files`);
}

function shardsOf(indexPath: string): string[] {
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: Record<string, string> };
  const shards = new Set(Object.values(index.weight_map ?? {}));
  for (const s of shards) {
    if (s.includes('..') || s.startsWith('/')) throw new KvserveError('ERR_HUB_DOWNLOAD', `${indexPath}: invalid shard name ${s}`);
  }
  return [...shards].sort();
}

function resolveOffline(env: HubEnv, repoDir: string, req: HubModelRequest): string {
  const commit = cachedCommit(repoDir, req.revision);
  const name = `${req.repoId}@${req.revision}`;
  if (!commit) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${name}: HF_HUB_OFFLINE is set and the model is not in the cache (${env.cacheDir}); download it first with network access (kvserve download ${req.repoId}).`);
  }
  const snapshot = join(repoDir, 'snapshots', commit);
  const files = snapshotFiles(snapshot);
  const wanted = selectFiles(req, files);
  const missing = wanted.files.filter((f) => !existsSync(join(snapshot, f)));
  if (wanted.index) missing.push(...shardsOf(join(snapshot, wanted.index)).filter((f) => !existsSync(join(snapshot, f))));
  if (missing.length > 0) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${name}: HF_HUB_OFFLINE is set and the cached snapshot ${commit} lacks ${missing.join(', ')}`);
  }
  return wanted.gguf ? join(snapshot, wanted.gguf) : snapshot;
}
