// HTTP over a raw TCP socket (node:net), for requests fetch cannot send: invalid header bytes,
// truncated bodies, bodies trickled byte by byte, a client that half-closes mid-body. Reads whatever
// the server answers until it closes the connection.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RawResponse {
  /** 0 when the server closed without answering. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from the first byte sent to the connection's end. */
  ms: number;
}

export interface RawSendOptions {
  /** Bytes per write and the pause after each (trickled body); default: one write. */
  chunkSize?: number;
  /** Bytes sent at once before the trickle starts (e.g. the whole head). Default 0. */
  firstChunk?: number;
  chunkDelayMs?: number;
  /** End our side after sending (a client that gives up mid-body). Default false. */
  halfClose?: boolean;
  /** Give up waiting for the server after this long (default 20 s). */
  timeoutMs?: number;
}

export function parseRawResponse(raw: Buffer, ms: number): RawResponse {
  const text = raw.toString('utf8');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd >= 0 ? text.slice(0, headEnd) : text;
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!m) return { status: 0, headers: {}, body: text, ms };
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = headEnd >= 0 ? text.slice(headEnd + 4) : '';
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(m[1]), headers, body, ms };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) break;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) break;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
  return out;
}

/** Sends `bytes` to host:port and collects the response until the server closes (or the timeout). */
export async function rawRequest(port: number, bytes: Buffer, options: RawSendOptions = {}): Promise<RawResponse> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  const start = performance.now();
  const ended = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const chunkSize = Math.max(1, options.chunkSize ?? bytes.length);
  const first = Math.min(options.firstChunk ?? 0, bytes.length);
  if (first > 0) socket.write(bytes.subarray(0, first));
  for (let at = first; at < bytes.length && !socket.destroyed; at += chunkSize) {
    socket.write(bytes.subarray(at, at + chunkSize));
    if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
  }
  if (options.halfClose) socket.end();
  const cancel = new AbortController();
  const timeout = sleep(options.timeoutMs ?? 20_000, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
  const result = await Promise.race([ended, timeout]);
  cancel.abort();
  socket.destroy();
  const ms = performance.now() - start;
  if (result === 'timeout') return { status: -1, headers: {}, body: Buffer.concat(chunks).toString('utf8'), ms };
  return parseRawResponse(Buffer.concat(chunks), ms);
}

/** A request's bytes: request line, headers (Connection: close unless given) and body. */
export function httpBytes(method: string, path: string, headers: Record<string, string | number>, body: Buffer | string = ''): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const all: Record<string, string | number> = { host: '127.0.0.1', connection: 'close', ...headers };
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}
