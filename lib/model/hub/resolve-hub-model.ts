// Resolves a hub model id to a local path in the Hugging Face cache, downloading only the files a
// model needs: config, tokenizer and generation config, and the safetensors shards the index names
// (HF repositories), or the one selected GGUF file (GGUF repositories). Files already in the
// snapshot are not asked for again; without network a complete cached snapshot is used.
import { join } from 'node:path';
import { invalidArgument, KvserveError } from '../../errors.js';
import { logger } from '../../log.js';
import { readSafetensorsIndex } from '../safetensors/index-file.js';
import { downloadBlob, type DownloadOptions } from './download-file.js';
import { cachedCommit, linkSnapshotFile, repoCacheDir, snapshotFiles, snapshotHasFile, writeRef } from './hub-cache.js';
import { hubEnv, type HubEnv } from './hub-env.js';
import { fetchFileMeta, fetchRepoInfo, type FileMeta } from './hub-http.js';
import { isValidRepoId, pickGgufForQuant } from './model-ref.js';

const HF_SIDE_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
];
const SHARDED_GGUF = /-\d{5}-of-(\d{5})\.gguf$/i;

export interface HubModelRequest {
  repoId: string;
  revision: string;
  /** A GGUF file name, or null. */
  file: string | null;
  /** A quantization tag picking a GGUF file, or null. */
  quant: string | null;
}

export interface HubDownloadProgress {
  /** The file being fetched, its 1-based position and the number of files to fetch. */
  file: string;
  fileIndex: number;
  numFiles: number;
  /** Bytes on disk over all files to fetch (resumed bytes included), and their total when known. */
  downloadedBytes: number;
  totalBytes: number | null;
  /** Average over this call's network transfer. */
  bytesPerSecond: number;
}

export interface ResolveOptions extends Omit<DownloadOptions, 'onProgress'> {
  env?: HubEnv;
  onProgress?: (p: HubDownloadProgress) => void;
}

/** Returns the local path to load: a GGUF file or a snapshot directory. */
export async function resolveHubModel(req: HubModelRequest, opts: ResolveOptions = {}): Promise<string> {
  const env = opts.env ?? hubEnv();
  validateRequest(req);
  const repoDir = repoCacheDir(env.cacheDir, req.repoId);
  if (env.offline) return resolveFromCache(env, repoDir, req);
  const warn = opts.onWarning ?? ((message: string) => logger().warn(message));

  let info;
  try {
    info = await fetchRepoInfo(env, req.repoId, req.revision);
  } catch (err) {
    // As huggingface_hub: with the network down, a model already in the cache is used as is.
    if (err instanceof KvserveError && err.code === 'ERR_HUB_UNREACHABLE') {
      let cached: string | null = null;
      try {
        cached = resolveFromCache(env, repoDir, req);
      } catch {
        // not cached: report the network error
      }
      if (cached) {
        warn(`${err.message.replace(/\. Without network.*$/, '')}; using the cached copy in ${cached}`);
        return cached;
      }
    }
    throw err;
  }
  const commit = info.sha;
  const wanted = selectFiles(req, info.files);
  const snapshot = join(repoDir, 'snapshots', commit);
  const fetchOpts = { ...opts, onWarning: warn };
  if (wanted.index) await fetchFiles(env, repoDir, req.repoId, commit, [wanted.index], fetchOpts);
  const files = wanted.index ? [...wanted.files, ...shardsOf(join(snapshot, wanted.index))] : wanted.files;
  await fetchFiles(env, repoDir, req.repoId, commit, files, fetchOpts);
  writeRef(repoDir, req.revision, commit);
  return wanted.gguf ? join(snapshot, wanted.gguf) : snapshot;
}

/** Fetches the files missing from snapshots/<commit>, reporting progress over all of them. */
async function fetchFiles(env: HubEnv, repoDir: string, repoId: string, commit: string, files: string[], opts: ResolveOptions): Promise<void> {
  const missing = files.filter((f) => !snapshotHasFile(repoDir, commit, f));
  if (missing.length === 0) return;
  const metas: FileMeta[] = await Promise.all(missing.map((f) => fetchFileMeta(env, repoId, commit, f)));
  const known = metas.every((m) => m.size !== null);
  const totalBytes = known ? metas.reduce((sum, m) => sum + (m.size as number), 0) : null;
  const started = performance.now();
  let doneBytes = 0;
  let receivedBefore = 0; // network bytes of the files before this one
  for (let i = 0; i < missing.length; i++) {
    const file = missing[i] as string;
    const meta = metas[i] as FileMeta;
    const report = (fileBytes: number, receivedBytes: number) =>
      opts.onProgress?.({
        file,
        fileIndex: i + 1,
        numFiles: missing.length,
        downloadedBytes: doneBytes + fileBytes,
        totalBytes,
        bytesPerSecond: ((receivedBefore + receivedBytes) * 1000) / Math.max(1, performance.now() - started),
      });
    let reported = false;
    let received = 0;
    await downloadBlob(env, repoDir, repoId, commit, file, meta, {
      ...opts,
      onProgress: (p) => {
        reported = true;
        received = p.receivedBytes;
        report(p.downloadedBytes, received);
      },
    });
    doneBytes += meta.size ?? 0;
    receivedBefore += received;
    if (!reported) report(0, 0); // the blob was already there (shared with another revision)
    linkSnapshotFile(repoDir, commit, file, meta.etag);
  }
}

export function validateRequest(req: HubModelRequest): void {
  if (!isValidRepoId(req.repoId)) throw invalidArgument('model', 'a hub id such as org/name', req.repoId);
  if (typeof req.revision !== 'string' || req.revision === '' || !isSafeRelativePath(req.revision)) {
    throw invalidArgument('revision', 'a branch, tag or commit hash', req.revision);
  }
  if (req.file !== null && !isSafeRelativePath(req.file)) throw invalidArgument('file', 'a file path inside the repository', req.file);
}

/** A relative path with no empty, "." or ".." segment (repo files, revisions: they become cache paths). */
function isSafeRelativePath(p: string): boolean {
  return !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

function selectFiles(req: HubModelRequest, files: string[]): { files: string[]; index: string | null; gguf: string | null } {
  const has = new Set(files.filter(isSafeRelativePath));
  const name = `${req.repoId}@${req.revision}`;
  if (req.file || req.quant) {
    const gguf = req.file ?? pickGgufForQuant([...has], req.quant as string);
    if (!gguf || !has.has(gguf)) {
      const available = [...has].filter((f) => f.toLowerCase().endsWith('.gguf'));
      throw new KvserveError(
        'ERR_HUB_NOT_FOUND',
        `${name}: no GGUF file ${req.file ? `named ${req.file}` : `for quantization ${req.quant}`}; available: ${available.join(', ') || 'none'}`,
      );
    }
    const split = SHARDED_GGUF.exec(gguf);
    if (split && Number(split[1]) > 1) {
      throw new KvserveError('ERR_MODEL_UNSUPPORTED', `${name}: ${gguf} is part of a ${Number(split[1])}-file split GGUF, which kvserve does not load; pick an unsplit file`);
    }
    return { files: [gguf], index: null, gguf };
  }
  if (has.has('config.json')) {
    const side = HF_SIDE_FILES.filter((f) => has.has(f));
    if (has.has('model.safetensors')) return { files: [...side, 'model.safetensors'], index: null, gguf: null };
    if (has.has('model.safetensors.index.json')) return { files: side, index: 'model.safetensors.index.json', gguf: null };
    throw new KvserveError('ERR_MODEL_UNSUPPORTED', `${name}: has config.json but no model.safetensors or model.safetensors.index.json (other weight formats are not supported)`);
  }
  const ggufs = [...has].filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (ggufs.length === 1) return selectFiles({ ...req, file: ggufs[0] as string }, files);
  if (ggufs.length > 1) {
    throw new KvserveError(
      'ERR_INVALID_ARGUMENT',
      `${name}: several GGUF files; pick one as ${req.repoId}:<file.gguf> or a quantization tag such as ${req.repoId}:Q8_0. Available: ${ggufs.join(', ')}`,
    );
  }
  throw new KvserveError('ERR_MODEL_UNSUPPORTED', `${name}: neither a Hugging Face model directory (config.json) nor GGUF files`);
}

function shardsOf(indexPath: string): string[] {
  const shards = readSafetensorsIndex(indexPath).shards;
  for (const s of shards) {
    if (!isSafeRelativePath(s)) throw new KvserveError('ERR_MODEL_FORMAT', `${indexPath}: invalid shard name ${JSON.stringify(s)}`);
  }
  return shards;
}

/** The cached snapshot for the request, complete with every file it needs; throws ERR_HUB_OFFLINE otherwise. */
function resolveFromCache(env: HubEnv, repoDir: string, req: HubModelRequest): string {
  const commit = cachedCommit(repoDir, req.revision);
  const name = `${req.repoId}@${req.revision}`;
  if (!commit) {
    throw new KvserveError(
      'ERR_HUB_OFFLINE',
      `${name}: offline (HF_HUB_OFFLINE is set) and the model is not in the cache (${env.cacheDir}); download it first with network access (kvserve download ${req.repoId}${req.revision === 'main' ? '' : ` --revision ${req.revision}`}).`,
    );
  }
  const snapshot = join(repoDir, 'snapshots', commit);
  let wanted;
  try {
    wanted = selectFiles(req, snapshotFiles(snapshot));
  } catch (err) {
    throw new KvserveError('ERR_HUB_OFFLINE', `${name}: offline and the cached snapshot ${commit} is incomplete: ${(err as Error).message}`, { cause: err });
  }
  const missing = wanted.files.filter((f) => !snapshotHasFile(repoDir, commit, f));
  if (wanted.index && missing.length === 0) missing.push(...shardsOf(join(snapshot, wanted.index)).filter((f) => !snapshotHasFile(repoDir, commit, f)));
  if (missing.length > 0) {
    throw new KvserveError('ERR_HUB_OFFLINE', `${name}: offline and the cached snapshot ${commit} lacks ${missing.join(', ')}; download it again with network access.`);
  }
  return wanted.gguf ? join(snapshot, wanted.gguf) : snapshot;
}
