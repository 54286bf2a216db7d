// Downloads one hub file into the blob store: resumes a partial download with an HTTP range request,
// checks size and sha256 (the LFS etag), and renames into place only when complete.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { KvserveError } from '../../errors.js';
import type { HubEnv } from './hub-env.js';
import { hubError, hubFetch, resolveUrl, type FileMeta } from './hub-http.js';

export interface DownloadProgress {
  file: string;
  downloadedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
}

async function hashFile(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Ensures blobs/<etag> holds the file; returns its path. */
export async function downloadBlob(
  env: HubEnv,
  repoDir: string,
  repoId: string,
  revision: string,
  file: string,
  meta: FileMeta,
  onProgress?: (p: DownloadProgress) => void,
): Promise<string> {
  const blobDir = join(repoDir, 'blobs');
  mkdirSync(blobDir, { recursive: true });
  const blob = join(blobDir, meta.etag);
  if (existsSync(blob) && (meta.size === null || statSync(blob).size === meta.size)) return blob;
  const partial = `${blob}.incomplete`;
  const what = `${repoId}/${file}@${revision}`;
  const isSha256 = /^[0-9a-f]{64}$/.test(meta.etag);
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  if (meta.size !== null && offset > meta.size) {
    unlinkSync(partial);
    offset = 0;
  }
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  const res = await hubFetch(resolveUrl(env, repoId, revision, file), { headers }, env, what);
  if (res.status === 416 && meta.size !== null && offset === meta.size) {
    // Already complete: fall through to verification.
  } else if (!res.ok) {
    throw hubError(res.status, what, env);
  } else if (res.status === 200 && offset > 0) {
    offset = 0; // the server ignored the range: start over
  }
  const hash = createHash('sha256');
  if (offset > 0) await hashFile(partial, hash);
  if (res.ok && res.body) {
    let downloaded = offset;
    const started = performance.now();
    let lastReport = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        downloaded += chunk.length;
        const now = performance.now();
        if (onProgress && now - lastReport > 100) {
          lastReport = now;
          onProgress({ file, downloadedBytes: downloaded, totalBytes: meta.size, bytesPerSecond: ((downloaded - offset) * 1000) / Math.max(1, now - started) });
        }
        cb(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as never), meter, createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' }));
    onProgress?.({ file, downloadedBytes: downloaded, totalBytes: meta.size, bytesPerSecond: 0 });
  }
  const size = statSync(partial).size;
  if (meta.size !== null && size !== meta.size) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${what}: downloaded ${size} bytes, expected ${meta.size}; run again to resume.`);
  }
  if (isSha256) {
    const digest = hash.digest('hex');
    if (digest !== meta.etag) {
      unlinkSync(partial);
      throw new KvserveError('ERR_HUB_DOWNLOAD', `${what}: checksum mismatch (sha256 ${digest}, expected ${meta.etag}); the corrupted download was removed.`);
    }
  }
  renameSync(partial, blob);
  return blob;
}
