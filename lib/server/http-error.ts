// Errors that leave the server as HTTP statuses. Routes and hooks throw HttpError (or let a
// KvserveError through); the app's error handler renders it in the caller's protocol (errors.ts).
import { KvserveError, type ErrorCode } from '../errors.js';

export type ErrorKind =
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'overloaded'
  | 'unavailable'
  | 'internal'
  /** The client did not send its whole request in time (408). */
  | 'request_timeout'
  /** The request head is larger than the server accepts (431). */
  | 'headers_too_large'
  /** Bytes that are not an HTTP request (400), rejected before any route. */
  | 'malformed_http';

export class HttpError extends Error {
  readonly statusCode: number;
  readonly kind: ErrorKind;
  /** The request field the error is about (OpenAI's `param`), when there is one. */
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /** A short machine-readable code (OpenAI's `code`), e.g. invalid_api_key, model_not_found. */
  readonly code: string | null;

  constructor(
    statusCode: number,
    kind: ErrorKind,
    message: string,
    options: { param?: string | null; headers?: Record<string, string>; code?: string | null; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.kind = kind;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.code = options.code ?? null;
  }
}

export function badRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return new HttpError(400, 'invalid_request', message, { param, code });
}

/** Seconds a client should wait before retrying after a full queue or during a drain. */
export const RETRY_AFTER_SECONDS = 1;

const ENGINE_STATUS: Partial<Record<ErrorCode, [number, ErrorKind]>> = {
  ERR_INVALID_ARGUMENT: [400, 'invalid_request'],
  ERR_ENGINE_PROMPT_TOO_LONG: [400, 'invalid_request'],
  ERR_ENGINE_KV_CAPACITY: [400, 'invalid_request'],
  ERR_TOKENIZER_TEMPLATE: [400, 'invalid_request'],
  ERR_ENGINE_QUEUE_FULL: [503, 'overloaded'],
  ERR_ENGINE_CLOSED: [503, 'unavailable'],
  ERR_ENGINE_ABORTED: [503, 'unavailable'],
};

/** Engine errors to HTTP: bad input is 400, a full queue or a closed engine 503, anything else 500. */
export function fromEngineError(err: KvserveError, paramNames: Record<string, string> = {}): HttpError {
  const [status, kind] = ENGINE_STATUS[err.code] ?? [500, 'internal'];
  let message = err.message;
  let param: string | null = null;
  if (err.code === 'ERR_INVALID_ARGUMENT') {
    // Engine messages start with the engine's (camelCase) field name: show the protocol's name.
    const head = /^([A-Za-z_]\w*)(?=[:[. ])/.exec(message)?.[1];
    if (head !== undefined) {
      const mapped = paramNames[head];
      param = mapped ?? head;
      if (mapped !== undefined) message = mapped + message.slice(head.length);
    }
  }
  const headers: Record<string, string> = kind === 'overloaded' || kind === 'unavailable'
    ? { 'retry-after': String(RETRY_AFTER_SECONDS) }
    : {};
  const code = err.code === 'ERR_ENGINE_PROMPT_TOO_LONG' ? 'context_length_exceeded' : null;
  return new HttpError(status, kind, message, { param, headers, code, cause: err });
}

export function toHttpError(err: unknown, paramNames?: Record<string, string>): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof KvserveError) return fromEngineError(err, paramNames);
  return new HttpError(500, 'internal', err instanceof Error ? err.message : String(err), { cause: err });
}
