// The HTTP layer's own defences, below the routes: how long a client may take to send its request
// (slow or stalled clients get 408 instead of holding a connection forever), how large its headers may
// be (431), that a body is valid UTF-8 JSON (400), and an error body in the caller's protocol even for
// requests node's HTTP parser rejects before fastify sees them (bad request lines, bad header bytes,
// header overflow, timeouts): the route is taken from the request line when there is one.
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { protocolOf, renderError } from './error-render.js';
import { HttpError } from './http-error.js';

/** Time a client gets to send its whole request (headers and body) before it is answered 408. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Largest request head (request line and headers) in bytes; node's default. Larger gets 431. */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

export interface HttpLimits {
  requestTimeoutMs: number;
  maxHeaderSize: number;
}

/** Fastify options that set the limits on the HTTP server it creates (a timeout of 0 disables it). */
export function httpServerOptions(limits: HttpLimits): { requestTimeout: number; http: { maxHeaderSize: number; requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } } {
  const timeout = limits.requestTimeoutMs;
  return {
    requestTimeout: timeout,
    http: {
      maxHeaderSize: limits.maxHeaderSize,
      requestTimeout: timeout,
      headersTimeout: Math.min(60_000, timeout),
      // Node checks for expired requests on this interval (30 s by default): a fraction of the timeout
      // keeps the 408 close to the deadline.
      connectionsCheckingInterval: timeout > 0 ? Math.max(50, Math.min(30_000, Math.floor(timeout / 4))) : 30_000,
    },
  };
}

const REQUEST_LINE = /^[A-Z]{1,16} ([\x21-\x7e]{1,8192}) HTTP\/\d/;

/** The path of a request from the start of its raw bytes, when they hold a request line. */
export function requestLinePath(raw: Buffer | undefined): string | undefined {
  if (!raw || raw.length === 0) return undefined;
  const m = REQUEST_LINE.exec(raw.subarray(0, 8300).toString('latin1'));
  return m?.[1];
}

/** Node's clientError (fastify types rawPacket loosely; node passes the Buffer being parsed). */
interface ClientError extends Error {
  code?: string;
  rawPacket?: unknown;
}

/**
 * Handles node's 'clientError' (the request never reached a route, or its body never arrived in
 * time): answers 400, 408 or 431 with an error body in the protocol of the path, then closes.
 */
export function createClientErrorHandler(pathOf: (socket: Socket) => string | undefined): (error: ClientError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || socket.destroyed) return;
    // A response already started on this connection: bytes now would corrupt it; just close.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    let httpError: HttpError;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      httpError = new HttpError(408, 'request_timeout', 'The request was not received in time: send the whole request (headers and body) without stalling');
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      httpError = new HttpError(431, 'headers_too_large', 'Request header fields are larger than the server accepts');
    } else {
      httpError = new HttpError(400, 'malformed_http', `Malformed HTTP request (${error.code ?? error.message})`);
    }
    const raw = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined;
    // Without a request line the route is unknown: OpenAI's shape, the API most clients speak.
    const path = pathOf(socket) ?? requestLinePath(raw);
    const rendered = renderError(httpError, path === undefined ? 'openai' : protocolOf(path));
    const body = JSON.stringify(rendered.body);
    const extra = Object.entries(rendered.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(
      `HTTP/1.1 ${rendered.statusCode} ${httpStatusText(rendered.statusCode)}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  };
}

function httpStatusText(status: number): string {
  return ({ 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' } as Record<number, string>)[status] ?? 'Error';
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Deepest JSON nesting accepted: requests nest a few levels; parsing megabytes of brackets takes seconds. */
export const MAX_JSON_DEPTH = 128;

/** Byte offset where the nesting first exceeds `max` levels, or -1 (strings are skipped; validity is JSON.parse's job). */
export function jsonDepthExceeded(bytes: Uint8Array, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

/**
 * Body parser for every content type: the body must be UTF-8 (RFC 8259) JSON nested at most
 * MAX_JSON_DEPTH levels. Invalid UTF-8 is a 400 naming the byte offset, never text silently repaired
 * with U+FFFD.
 */
export function strictJsonBodyParser(parseJson: (request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => void) {
  return (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      done(new HttpError(400, 'invalid_request', `body: expected UTF-8 encoded JSON, got invalid UTF-8 at byte ${firstInvalidUtf8(body)}`, { param: 'body' }));
      return;
    }
    const deep = jsonDepthExceeded(body, MAX_JSON_DEPTH);
    if (deep >= 0) {
      done(new HttpError(400, 'invalid_request', `body: expected JSON nested at most ${MAX_JSON_DEPTH} levels deep, got deeper nesting at byte ${deep}`, { param: 'body' }));
      return;
    }
    parseJson(request, text, done);
  };
}

/** Offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Sequence length and the allowed range of the second byte (no overlongs, surrogates or > U+10FFFF).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) [n, lo, hi] = [3, b === 0xe0 ? 0xa0 : 0x80, b === 0xed ? 0x9f : 0xbf];
    else if (b >= 0xf0 && b <= 0xf4) [n, lo, hi] = [4, b === 0xf0 ? 0x90 : 0x80, b === 0xf4 ? 0x8f : 0xbf];
    else return i;
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n;
  }
  return bytes.length;
}

/**
 * Fastify's router rejects some URLs before any hook or error handler runs (an invalid percent
 * encoding: 400; a path parameter longer than maxParamLength: 414); this answers them in the
 * protocol of the path instead of fastify's own body.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? 'A path parameter (such as the model name) is longer than the server accepts'
    : `Malformed URL (${error.message})`;
  const rendered = renderError(new HttpError(status, 'malformed_http', message), protocolOf(request.url));
  void reply.code(rendered.statusCode).headers(rendered.headers).send(rendered.body);
}

/** Each connection's current request path (for errors raised after the route is known, e.g. 408). */
export class RequestPaths {
  private readonly paths = new WeakMap<Socket, string>();

  /** Install as an onRequest hook: it runs once the request head is parsed, before the body. */
  record(request: FastifyRequest): void {
    const socket = request.raw.socket;
    if (socket) this.paths.set(socket, request.url);
  }

  pathOf(socket: Socket): string | undefined {
    return this.paths.get(socket);
  }
}
