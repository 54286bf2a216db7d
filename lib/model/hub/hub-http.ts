// HTTP calls to a Hugging Face hub endpoint, with the hub's error cases turned into clear errors.
// The hub says what went wrong in X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound,
// GatedRepo); it answers 401 both for private or gated repos and, to anonymous users, for repos
// that do not exist, so a 401 message names both possibilities.
import { KvserveError } from '../../errors.js';
import type { HubEnv } from './hub-env.js';

export function requestHeaders(env: HubEnv, extra: Record<string, string> = {}): Record<string, string> {
  // identity: sizes from the hub (Content-Length, X-Linked-Size) must match the bytes written.
  return { 'accept-encoding': 'identity', ...(env.token ? { authorization: `Bearer ${env.token}` } : {}), ...extra };
}

export interface HubErrorContext {
  repoId: string;
  revision: string;
  file?: string;
}

function label(ctx: HubErrorContext): string {
  return `${ctx.repoId}${ctx.file ? `/${ctx.file}` : ''}@${ctx.revision}`;
}

/** A retry may succeed: server errors and rate limits (not 4xx answers about the request itself). */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export function hubError(status: number, ctx: HubErrorContext, env: HubEnv, headers?: Headers): KvserveError {
  const what = label(ctx);
  const code = headers?.get('x-error-code') ?? null;
  const tokenNote = env.token
    ? 'HF_TOKEN is set: check that its account has access to this model'
    : 'set HF_TOKEN to a token with read access (https://huggingface.co/settings/tokens)';
  if (code === 'GatedRepo' || (status === 403 && code === null)) {
    return new KvserveError(
      'ERR_HUB_ACCESS_DENIED',
      `${what}: access denied (HTTP ${status}): the model is gated. Accept its conditions at ${env.endpoint}/${ctx.repoId}, then ${tokenNote}.`,
    );
  }
  if (status === 401) {
    return new KvserveError(
      'ERR_HUB_ACCESS_DENIED',
      `${what}: access denied (HTTP 401): the model is private or gated, or does not exist. If it exists, ${tokenNote}.`,
    );
  }
  if (code === 'RevisionNotFound') {
    return new KvserveError('ERR_HUB_NOT_FOUND', `${what}: not found (HTTP ${status}): ${ctx.repoId} has no revision '${ctx.revision}' (a branch, tag or commit).`);
  }
  if (code === 'EntryNotFound') {
    return new KvserveError('ERR_HUB_NOT_FOUND', `${what}: not found (HTTP ${status}): no file '${ctx.file ?? ''}' in ${ctx.repoId} at ${ctx.revision}.`);
  }
  if (status === 404) {
    return new KvserveError(
      'ERR_HUB_NOT_FOUND',
      `${what}: not found (HTTP 404): no such model${code === 'RepoNotFound' ? '' : ', revision or file'} on ${env.endpoint}.`,
    );
  }
  if (status === 429) {
    return new KvserveError('ERR_HUB_DOWNLOAD', `${what}: rate limited by ${env.endpoint} (HTTP 429); wait a moment and try again${env.token ? '' : ', or set HF_TOKEN (authenticated requests have higher limits)'}.`);
  }
  return new KvserveError('ERR_HUB_DOWNLOAD', `${what}: HTTP ${status} from ${env.endpoint}${status >= 500 ? ' (a server error; try again later)' : ''}.`);
}

/** A short reason for a network failure: "timed out", "ECONNREFUSED", "terminated". */
export function networkReason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.name === 'TimeoutError' ? 'timed out' : e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

export function unreachableError(env: HubEnv, what: string, err: unknown): KvserveError {
  const reason = networkReason(err);
  return new KvserveError(
    'ERR_HUB_UNREACHABLE',
    `${what}: cannot reach ${env.endpoint} (${reason}). Without network, set HF_HUB_OFFLINE=1 to use models already in the cache (${env.cacheDir}).`,
    { cause: err },
  );
}

/** fetch() with the hub's headers; a network failure or timeout becomes ERR_HUB_UNREACHABLE. */
export async function hubFetch(url: string, init: RequestInit & { headers?: Record<string, string> }, env: HubEnv, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, headers: requestHeaders(env, init.headers) });
  } catch (err) {
    throw unreachableError(env, what, err);
  }
}

export interface RepoInfo {
  sha: string;
  files: string[];
}

export async function fetchRepoInfo(env: HubEnv, repoId: string, revision: string): Promise<RepoInfo> {
  const url = `${env.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`;
  const ctx = { repoId, revision };
  const res = await hubFetch(url, { signal: AbortSignal.timeout(env.etagTimeoutS * 1000) }, env, label(ctx));
  if (!res.ok) throw hubError(res.status, ctx, env, res.headers);
  let body: { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> };
  try {
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${label(ctx)}: the API response from ${env.endpoint} is not JSON`, { cause: err });
  }
  if (typeof body.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha) || !Array.isArray(body.siblings)) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${label(ctx)}: unexpected API response from ${env.endpoint} (no commit sha or file list)`);
  }
  return { sha: body.sha, files: body.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === 'string') };
}

export interface FileMeta {
  commit: string | null;
  etag: string;
  size: number | null;
}

const MAX_RELATIVE_REDIRECTS = 5;

/**
 * HEAD of a file: its blob etag (the sha256 for LFS files), size and commit, read from the hub's
 * own answer: relative redirects without file metadata (a renamed repo) are followed, the redirect
 * to the CDN (which carries X-Linked-Etag) is not.
 */
export async function fetchFileMeta(env: HubEnv, repoId: string, revision: string, file: string): Promise<FileMeta> {
  const ctx = { repoId, revision, file };
  const what = label(ctx);
  let url = resolveUrl(env, repoId, revision, file);
  let res: Response;
  for (let hops = 0; ; hops++) {
    res = await hubFetch(url, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(env.etagTimeoutS * 1000) }, env, what);
    const location = res.headers.get('location');
    const hasMeta = res.headers.has('x-linked-etag') || res.headers.has('etag');
    if (res.status >= 300 && res.status < 400 && !hasMeta && location?.startsWith('/') && !location.startsWith('//') && hops < MAX_RELATIVE_REDIRECTS) {
      url = new URL(location, url).href;
      continue;
    }
    break;
  }
  if (res.status >= 400) throw hubError(res.status, ctx, env, res.headers);
  const clean = (v: string | null) => (v ? v.replace(/^W\//, '').replace(/"/g, '') : null);
  const etag = clean(res.headers.get('x-linked-etag')) ?? clean(res.headers.get('etag'));
  if (!etag || !/^[A-Za-z0-9._-]+$/.test(etag) || etag.startsWith('.')) {
    throw new KvserveError('ERR_HUB_DOWNLOAD', `${what}: the server sent no usable ETag (got ${JSON.stringify(etag)})`);
  }
  const sizeHeader = res.headers.get('x-linked-size') ?? (res.status < 300 ? res.headers.get('content-length') : null);
  const size = sizeHeader !== null ? Number(sizeHeader) : null;
  return { commit: res.headers.get('x-repo-commit'), etag, size: size !== null && Number.isSafeInteger(size) && size >= 0 ? size : null };
}

export function resolveUrl(env: HubEnv, repoId: string, revision: string, file: string): string {
  return `${env.endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}
