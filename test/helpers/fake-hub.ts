// A local HTTP server in the Hugging Face hub's URL layout, serving real files from disk:
//   GET  /api/models/<org>/<name>/revision/<rev>        -> { sha, siblings: [{ rfilename }] }
//   HEAD|GET /<org>/<name>/resolve/<rev>/<file>         -> 302 to /cdn/<sha256> (X-Linked-Etag, X-Linked-Size,
//                                                          X-Repo-Commit) for large files; 200 with ETag for small ones
//   GET  /cdn/<sha256>                                  -> the bytes, with HTTP range support
// Faults for tests: token required (401), drop the connection after N bytes once, serve corrupted bytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  /** file name in the repo -> its bytes */
  files: Record<string, Buffer>;
  commit?: string;
  gated?: boolean;
}

export interface FakeHubFaults {
  /** Cut the connection after this many body bytes of the next /cdn response (once). */
  dropAfterBytes?: number;
  /** Flip a byte in every /cdn response. */
  corrupt?: boolean;
}

export interface FakeHub {
  url: string;
  token: string;
  faults: FakeHubFaults;
  requests: Array<{ method: string; url: string; range?: string }>;
  close(): Promise<void>;
}

const LFS_THRESHOLD = 1024;

export function repoFromFiles(paths: Record<string, string>, extra: Partial<FakeRepo> = {}): FakeRepo {
  const files: Record<string, Buffer> = {};
  for (const [name, path] of Object.entries(paths)) files[name] = readFileSync(path);
  return { files, ...extra };
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const token = 'hf_test_token';
  const blobs = new Map<string, Buffer>();
  const commits = new Map<string, string>();
  for (const [id, repo] of Object.entries(repos)) {
    const commit = repo.commit ?? createHash('sha1').update(id).digest('hex');
    commits.set(id, commit);
    for (const buf of Object.values(repo.files)) blobs.set(createHash('sha256').update(buf).digest('hex'), buf);
  }
  const hub: FakeHub = { url: '', token, faults: {}, requests: [], close: async () => {} };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
    hub.requests.push({ method: req.method ?? '', url, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const authorized = req.headers.authorization === `Bearer ${token}`;
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url);
    if (m) {
      const repo = repos[m[1] as string];
      if (!repo) return send(res, 404, { error: 'Repository not found' });
      if (repo.gated && !authorized) return send(res, 401, { error: 'Access to model is restricted' });
      return send(res, 200, { sha: commits.get(m[1] as string), siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) });
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    if (m) {
      const id = m[1] as string;
      const repo = repos[id];
      if (!repo) return send(res, 404, { error: 'Repository not found' });
      if (repo.gated && !authorized) return send(res, 401, { error: 'Access to model is restricted' });
      const buf = repo.files[m[3] as string];
      if (!buf) return send(res, 404, { error: 'Entry not found' });
      const sha = createHash('sha256').update(buf).digest('hex');
      res.setHeader('x-repo-commit', commits.get(id) as string);
      if (buf.length >= LFS_THRESHOLD) {
        res.setHeader('x-linked-etag', `"${sha}"`);
        res.setHeader('x-linked-size', String(buf.length));
        res.setHeader('location', `/cdn/${sha}`);
        res.statusCode = 302;
        return res.end();
      }
      res.setHeader('etag', `"${createHash('sha1').update(buf).digest('hex')}"`);
      res.setHeader('content-length', String(buf.length));
      res.statusCode = 200;
      return res.end(req.method === 'HEAD' ? undefined : buf);
    }
    m = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (m) {
      let buf = blobs.get(m[1] as string);
      if (!buf) return send(res, 404, { error: 'blob not found' });
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
      res.setHeader('content-length', String(body.length));
      const drop = hub.faults.dropAfterBytes;
      if (drop !== undefined && drop < body.length) {
        hub.faults.dropAfterBytes = undefined;
        res.write(body.subarray(0, drop), () => res.socket?.destroy());
        return;
      }
      return res.end(body);
    }
    send(res, 404, { error: 'not found' });
  };

  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => new Promise<void>((resolve) => {
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
