// Downloads one hub file into the blob store as huggingface_hub does: bytes go to
// blobs/<etag>.incomplete, a dropped or stalled connection resumes with an HTTP range request
// (within this call, up to maxRetries times, and in a later run from the same partial file), size
// and sha256 (the LFS etag) are checked, and the blob is renamed into place only when complete.
// A lock keeps two processes from writing the same partial file.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvserveError } from '../../errors.js';
import { withFileLock } from './file-lock.js';
import { repoFolderName } from './hub-cache.js';
import type { HubEnv } from './hub-env.js';
import { hubError, hubFetch, isRetryableStatus, networkReason, resolveUrl, type FileMeta } from './hub-http.js';

export interface BlobProgress {
  file: string;
  /** Bytes of this file on disk (a resumed download starts above 0). */
  downloadedBytes: number;
  totalBytes: number | null;
  /** Bytes received over the network by this call so far. */
  receivedBytes: number;
}

export interface DownloadOptions {
  onProgress?: (p: BlobProgress) => void;
  onWarning?: (message: string) => void;
  /** Resumes after a dropped or stalled connection or a server error, within this call. Default 5. */
  maxRetries?: number;
  /** First wait before a retry, doubled each time (at most 8 s). Default 1000. */
  retryDelayMs?: number;
}

/** A failure that a resumed request may get past. */
class Retryable extends Error {
  constructor(readonly error: KvserveError) {
    super(error.message);
  }
}

export function blobPath(repoDir: string, etag: string): string {
  return join(repoDir, 'blobs', etag);
}

function blobComplete(blob: string, meta: FileMeta): boolean {
  try {
    const size = statSync(blob).size;
    return meta.size === null || size === meta.size;
  } catch {
    return false;
  }
}

/** Ensures blobs/<etag> holds the file; returns its path. `revision` should be the commit. */
export async function downloadBlob(
  env: HubEnv,
  repoDir: string,
  repoId: string,
  revision: string,
  file: string,
  meta: FileMeta,
  opts: DownloadOptions = {},
): Promise<string> {
  const blob = blobPath(repoDir, meta.etag);
  if (blobComplete(blob, meta)) return blob;
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  const what = `${repoId}/${file}@${revision}`;
  const lock = join(env.cacheDir, '.locks', repoFolderName(repoId), `${meta.etag}.kvserve.lock`);
  return withFileLock(
    lock,
    async () => {
      if (blobComplete(blob, meta)) return blob; // another process finished it while we waited
      const partial = `${blob}.incomplete`;
      const maxRetries = opts.maxRetries ?? 5;
      const received = { bytes: 0 };
      for (let attempt = 0; ; attempt++) {
        try {
          await fetchIntoPartial(env, { repoId, revision, file }, meta, partial, received, opts.onProgress);
          break;
        } catch (err) {
          if (!(err instanceof Retryable)) throw err;
          if (attempt >= maxRetries) {
            throw new KvserveError(err.error.code, `${err.message} (gave up after ${attempt + 1} attempts; run again to resume from the ${existsSync(partial) ? statSync(partial).size : 0} bytes kept)`, { cause: err.error });
          }
          const delay = Math.min(8000, (opts.retryDelayMs ?? 1000) * 2 ** attempt);
          opts.onWarning?.(`${err.message}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 2} of ${maxRetries + 1})`);
          await sleep(delay);
        }
      }
      await verify(partial, meta, what);
      renameSync(partial, blob);
      return blob;
    },
    { onWait: (owner) => opts.onWarning?.(`${what}: waiting for ${owner}, which is downloading the same file`) },
  );
}

async function verify(partial: string, meta: FileMeta, what: string): Promise<void> {
  const size = statSync(partial).size;
  if (meta.size !== null && size !== meta.size) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${what}: downloaded ${size} bytes, expected ${meta.size}; run again to resume.`);
  }
  if (!/^[0-9a-f]{64}$/.test(meta.etag)) return; // a git blob id (small non-LFS file): size only
  const hash = createHash('sha256');
  await hashFile(partial, hash);
  const digest = hash.digest('hex');
  if (digest !== meta.etag) {
    unlinkSync(partial);
    throw new KvserveError(
      'ERR_HUB_DOWNLOAD',
      `${what}: checksum mismatch (sha256 ${digest}, expected ${meta.etag}); the corrupted download was removed, run again to fetch it anew.`,
    );
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** One request: appends to the partial file from where it ends. Throws Retryable for transient failures. */
async function fetchIntoPartial(
  env: HubEnv,
  ctx: { repoId: string; revision: string; file: string },
  meta: FileMeta,
  partial: string,
  received: { bytes: number },
  onProgress: DownloadOptions['onProgress'],
): Promise<void> {
  const what = `${ctx.repoId}/${ctx.file}@${ctx.revision}`;
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  if (meta.size !== null && offset > meta.size) {
    unlinkSync(partial);
    offset = 0;
  }
  if (meta.size !== null && offset === meta.size) return;

  // One controller for the whole request: it fires when no byte arrives for downloadTimeoutS.
  const controller = new AbortController();
  let lastActivity = performance.now();
  const stallMs = env.downloadTimeoutS * 1000;
  const watchdog = setInterval(() => {
    if (performance.now() - lastActivity > stallMs) controller.abort(new DOMException('stalled', 'TimeoutError'));
  }, Math.min(1000, stallMs / 2));
  try {
    let res: Response;
    try {
      res = await hubFetch(resolveUrl(env, ctx.repoId, ctx.revision, ctx.file), { headers: offset > 0 ? { range: `bytes=${offset}-` } : {}, signal: controller.signal }, env, what);
    } catch (err) {
      throw new Retryable(err as KvserveError);
    }
    if (res.status === 416 && offset > 0) {
      // Our partial file does not fit what the server has: start over.
      unlinkSync(partial);
      throw new Retryable(new KvserveError('ERR_HUB_DOWNLOAD', `${what}: the server refused to resume at byte ${offset}`));
    }
    if (!res.ok) {
      const error = hubError(res.status, ctx, env, res.headers);
      throw isRetryableStatus(res.status) ? new Retryable(error) : error;
    }
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
      if (!start || Number(start[1]) !== offset) {
        truncateSync(partial, 0);
        throw new Retryable(new KvserveError('ERR_HUB_DOWNLOAD', `${what}: the server resumed at the wrong byte (${res.headers.get('content-range')}, wanted ${offset})`));
      }
    } else if (offset > 0) {
      offset = 0; // the server ignored the range: start over
    }
    if (!res.body) throw new Retryable(new KvserveError('ERR_HUB_DOWNLOAD', `${what}: empty response body`));
    // Every byte received is written before a network error is handled, so a retry resumes exactly
    // where the data ends (a stream pipeline would drop what was still buffered).
    let downloaded = offset;
    let lastReport = 0;
    const out = await open(partial, offset > 0 ? 'a' : 'w');
    try {
      const body = res.body as unknown as AsyncIterable<Uint8Array>;
      const chunks = body[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
        } catch (err) {
          const reason = networkReason(controller.signal.aborted ? controller.signal.reason : err);
          throw new Retryable(new KvserveError('ERR_HUB_UNREACHABLE', `${what}: connection lost at byte ${downloaded} (${reason})`, { cause: err }));
        }
        if (next.done) break;
        try {
          await out.write(next.value);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw new KvserveError('ERR_HUB_DOWNLOAD', `${what}: cannot write ${partial} (${e.code ?? e.message})`, { cause: err });
        }
        lastActivity = performance.now();
        downloaded += next.value.length;
        received.bytes += next.value.length;
        if (onProgress && lastActivity - lastReport > 100) {
          lastReport = lastActivity;
          onProgress({ file: ctx.file, downloadedBytes: downloaded, totalBytes: meta.size, receivedBytes: received.bytes });
        }
      }
    } finally {
      await out.close();
    }
    onProgress?.({ file: ctx.file, downloadedBytes: downloaded, totalBytes: meta.size, receivedBytes: received.bytes });
    if (meta.size !== null && downloaded < meta.size) {
      throw new Retryable(new KvserveError('ERR_HUB_UNREACHABLE', `${what}: the connection closed at byte ${downloaded} of ${meta.size}`));
    }
  } finally {
    clearInterval(watchdog);
    controller.abort(); // releases the connection when we stopped reading early (a write error)
  }
}
