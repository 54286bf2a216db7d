// HTTP calls to a Hugging Face hub endpoint, with the hub's error cases turned into clear errors.
import { KvserveError } from '../../errors.js';
import type { HubEnv } from './hub-env.js';

export function authHeaders(env: HubEnv): Record<string, string> {
  return env.token ? { authorization: `Bearer ${env.token}` } : {};
}

export function hubError(status: number, what: string, env: HubEnv): KvserveError {
  if (status === 401 || status === 403) {
    return new KvserveError(
      'ERR_HUB_DOWNLOAD',
      `${what}: access denied (HTTP ${status}). The model may be gated or private: accept its licence on the hub and set HF_TOKEN to a token with read access${env.token ? ' (HF_TOKEN is set; check that it has access)' : ''}.`,
    );
  }
  if (status === 404) {
    return new KvserveError('ERR_HUB_DOWNLOAD', `${what}: not found (HTTP 404): no such model, revision or file on ${env.endpoint}.`);
  }
  return new KvserveError('ERR_HUB_DOWNLOAD', `${what}: HTTP ${status} from ${env.endpoint}.`);
}

export async function hubFetch(url: string, init: RequestInit, env: HubEnv, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, headers: { ...authHeaders(env), ...(init.headers as Record<string, string> | undefined) } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new KvserveError(
      'ERR_HUB_DOWNLOAD',
      `${what}: cannot reach ${env.endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message}). Without network, set HF_HUB_OFFLINE=1 to use models already in the cache (${env.cacheDir}).`,
      { cause: err },
    );
  }
}

export interface RepoInfo {
  sha: string;
  files: string[];
}

export async function fetchRepoInfo(env: HubEnv, repoId: string, revision: string): Promise<RepoInfo> {
  const url = `${env.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`;
  const res = await hubFetch(url, {}, env, `model ${repoId}@${revision}`);
  if (!res.ok) throw hubError(res.status, `model ${repoId}@${revision}`, env);
  const body = (await res.json()) as { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> };
  if (typeof body.sha !== 'string' || !Array.isArray(body.siblings)) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `model ${repoId}@${revision}: unexpected API response from ${env.endpoint}`);
  }
  return { sha: body.sha, files: body.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === 'string') };
}

export interface FileMeta {
  commit: string | null;
  etag: string;
  size: number | null;
}

/** HEAD of a file: its blob etag (the sha256 for LFS files), size and commit, read before any redirect. */
export async function fetchFileMeta(env: HubEnv, repoId: string, revision: string, file: string): Promise<FileMeta> {
  const url = resolveUrl(env, repoId, revision, file);
  const what = `${repoId}/${file}@${revision}`;
  const res = await hubFetch(url, { method: 'HEAD', redirect: 'manual' }, env, what);
  if (res.status >= 400) throw hubError(res.status, what, env);
  const clean = (v: string | null) => (v ? v.replace(/^W\//, '').replace(/"/g, '') : null);
  const etag = clean(res.headers.get('x-linked-etag')) ?? clean(res.headers.get('etag'));
  if (!etag || !/^[A-Za-z0-9._-]+$/.test(etag)) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${what}: the server sent no usable ETag`);
  }
  const sizeHeader = res.headers.get('x-linked-size') ?? (res.status < 300 ? res.headers.get('content-length') : null);
  return { commit: res.headers.get('x-repo-commit'), etag, size: sizeHeader !== null ? Number(sizeHeader) : null };
}

export function resolveUrl(env: HubEnv, repoId: string, revision: string, file: string): string {
  return `${env.endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}
