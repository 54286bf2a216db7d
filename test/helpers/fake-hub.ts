// A local HTTP server in the Hugging Face hub's URL layout, serving real files from disk:
//   GET  /api/models/<org>/<name>/revision/<rev>        -> { sha, siblings: [{ rfilename }] }
//   HEAD|GET /<org>/<name>/resolve/<rev>/<file>         -> 302 to /cdn/<sha256> (X-Linked-Etag, X-Linked-Size,
//                                                          X-Repo-Commit) for large files; 200 with ETag for small ones
//   GET  /cdn/<sha256>                                  -> the bytes, with HTTP range support
// Errors carry X-Error-Code as the hub's do: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo.
// A repo may be gated (files need the token; its API info stays public), private (everything needs
// the token; without it the hub answers 401), or renamed (the old id redirects with a relative URL).
// Faults for tests: drop the connection after N bytes, serve corrupted bytes, answer 500 once.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRevision {
  /** file name in the repo -> its bytes */
  files: Record<string, Buffer>;
  commit?: string;
}

export interface FakeRepo extends FakeRevision {
  /** Other branches or tags, each its own commit. */
  revisions?: Record<string, FakeRevision>;
  gated?: boolean;
  private?: boolean;
  /** The id this repo had before a rename: requests for it get a relative redirect. */
  formerId?: string;
}

export interface FakeHubFaults {
  /** Cut the connection after this many body bytes of the next /cdn responses (`times` of them, default 1). */
  dropAfterBytes?: number;
  dropTimes?: number;
  /** Flip a byte in every /cdn response. */
  corrupt?: boolean;
  /** Answer the next N /cdn requests with HTTP 500. */
  serverErrors?: number;
  /** Send no sizes (no X-Linked-Size, no Content-Length: chunked bodies), as some mirrors do. */
  hideSizes?: boolean;
}

export interface FakeHub {
  url: string;
  token: string;
  faults: FakeHubFaults;
  requests: Array<{ method: string; url: string; range?: string; authorization?: string }>;
  /** The commit a revision of a repo resolves to. */
  commitOf(repoId: string, revision?: string): string;
  close(): Promise<void>;
}

const LFS_THRESHOLD = 1024;

export function repoFromFiles(paths: Record<string, string>, extra: Partial<FakeRepo> = {}): FakeRepo {
  const files: Record<string, Buffer> = {};
  for (const [name, path] of Object.entries(paths)) files[name] = readFileSync(path);
  return { files, ...extra };
}

const sha1 = (data: string | Buffer) => createHash('sha1').update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const token = 'hf_test_token';
  const blobs = new Map<string, Buffer>();
  // repoId -> revision name or commit -> { commit, files }
  const revisions = new Map<string, Map<string, { commit: string; files: Record<string, Buffer> }>>();
  const renamed = new Map<string, string>();
  for (const [id, repo] of Object.entries(repos)) {
    const byName = new Map<string, { commit: string; files: Record<string, Buffer> }>();
    const add = (name: string, rev: FakeRevision) => {
      const entry = { commit: rev.commit ?? sha1(`${id}@${name}`), files: rev.files };
      byName.set(name, entry);
      byName.set(entry.commit, entry);
      for (const buf of Object.values(rev.files)) blobs.set(sha256(buf), buf);
    };
    add('main', repo);
    for (const [name, rev] of Object.entries(repo.revisions ?? {})) add(name, rev);
    revisions.set(id, byName);
    if (repo.formerId) renamed.set(repo.formerId, id);
  }
  const hub: FakeHub = {
    url: '',
    token,
    faults: {},
    requests: [],
    commitOf: (repoId, revision = 'main') => {
      const rev = revisions.get(repoId)?.get(revision);
      if (!rev) throw new Error(`fake hub: no ${repoId}@${revision}`);
      return rev.commit;
    },
    close: async () => {},
  };

  // The hub answers for a renamed repo's old id with a relative redirect to the new one.
  const redirectRenamed = (res: ServerResponse, rawPath: string, id: string): boolean => {
    const newId = renamed.get(id);
    if (!newId) return false;
    res.statusCode = 307;
    res.setHeader('location', rawPath.replace(`/${id}/`, `/${newId}/`));
    res.end();
    return true;
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const rawPath = (req.url ?? '').split('?')[0] ?? '';
    const url = decodeURIComponent(rawPath);
    hub.requests.push({
      method: req.method ?? '',
      url,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const authorized = req.headers.authorization === `Bearer ${token}`;
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url);
    if (m) {
      const id = m[1] as string;
      if (redirectRenamed(res, rawPath, id)) return;
      const repo = repos[id];
      if (!repo || (repo.private && !authorized)) return sendError(res, repo ? 401 : 404, 'RepoNotFound', 'Repository not found');
      const rev = revisions.get(id)?.get(m[2] as string);
      if (!rev) return sendError(res, 404, 'RevisionNotFound', 'Invalid rev id');
      return send(res, 200, { id, sha: rev.commit, siblings: Object.keys(rev.files).map((rfilename) => ({ rfilename })) });
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    if (m) {
      const id = m[1] as string;
      if (redirectRenamed(res, rawPath, id)) return;
      const repo = repos[id];
      if (!repo || (repo.private && !authorized)) return sendError(res, repo ? 401 : 404, 'RepoNotFound', 'Repository not found');
      if (repo.gated && !authorized) return sendError(res, 401, 'GatedRepo', `Access to model ${id} is restricted.`);
      const rev = revisions.get(id)?.get(m[2] as string);
      if (!rev) return sendError(res, 404, 'RevisionNotFound', 'Invalid rev id');
      const buf = rev.files[m[3] as string];
      if (!buf) return sendError(res, 404, 'EntryNotFound', 'Entry not found');
      res.setHeader('x-repo-commit', rev.commit);
      if (buf.length >= LFS_THRESHOLD) {
        res.setHeader('x-linked-etag', `"${sha256(buf)}"`);
        if (!hub.faults.hideSizes) res.setHeader('x-linked-size', String(buf.length));
        res.setHeader('location', `${hub.url}/cdn/${sha256(buf)}`); // absolute, as the hub's CDN redirects are
        res.statusCode = 302;
        return res.end();
      }
      // A small (non-LFS) file: its etag is the git blob id.
      res.setHeader('etag', `"${sha1(Buffer.concat([Buffer.from(`blob ${buf.length}\0`), buf]))}"`);
      if (!hub.faults.hideSizes) res.setHeader('content-length', String(buf.length));
      res.statusCode = 200;
      return res.end(req.method === 'HEAD' ? undefined : buf);
    }
    m = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (m) {
      let buf = blobs.get(m[1] as string);
      if (!buf) return sendError(res, 404, 'EntryNotFound', 'blob not found');
      if ((hub.faults.serverErrors ?? 0) > 0) {
        hub.faults.serverErrors = (hub.faults.serverErrors as number) - 1;
        return sendError(res, 500, null, 'internal error');
      }
      if (hub.faults.corrupt) {
        buf = Buffer.from(buf);
        buf[buf.length >> 1] = (buf[buf.length >> 1] as number) ^ 0xff;
      }
      let start = 0;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range) {
        start = Number(range[1]);
        if (start >= buf.length) {
          res.statusCode = 416;
          return res.end();
        }
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${start}-${buf.length - 1}/${buf.length}`);
      } else {
        res.statusCode = 200;
      }
      const body = buf.subarray(start);
      if (!hub.faults.hideSizes) res.setHeader('content-length', String(body.length));
      const drop = hub.faults.dropAfterBytes;
      if (drop !== undefined && drop < body.length) {
        const times = (hub.faults.dropTimes ?? 1) - 1;
        hub.faults.dropTimes = times;
        if (times <= 0) hub.faults.dropAfterBytes = undefined;
        // Half-close after the bytes (FIN, not RST): the client receives exactly `drop` bytes, then EOF
        // short of Content-Length.
        res.write(body.subarray(0, drop), () => res.socket?.end());
        return;
      }
      return res.end(body);
    }
    sendError(res, 404, null, 'not found');
  };

  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return hub;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string | null, message: string): void {
  if (code) res.setHeader('x-error-code', code);
  res.setHeader('x-error-message', message);
  send(res, status, { error: message });
}
