// Failures of `kvserve bench serve` that the person running it can act on (the server cannot be
// reached, answers an HTTP error, lists no model, refuses the first request): the CLI prints them as
// one line and exits 1, instead of a stack.

export class BenchServeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchServeError';
  }
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * The network reason behind fetch's bare `TypeError: fetch failed`, from its cause chain, e.g.
 * "connect ECONNREFUSED 127.0.0.1:8000" or "getaddrinfo ENOTFOUND host" (several, from an
 * AggregateError of address attempts, joined with "; ").
 */
export function networkCause(err: unknown): string {
  let deepest: ErrorLike | null = null;
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as ErrorLike).cause, depth++) {
    deepest = e as ErrorLike;
  }
  if (deepest === null) return String(err);
  const code = typeof deepest.code === 'string' ? deepest.code : '';
  let message = typeof deepest.message === 'string' ? deepest.message : '';
  if (message === '' && Array.isArray(deepest.errors)) {
    message = [...new Set(deepest.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))))].join('; ');
  }
  if (message === '') return code || String(err);
  return code !== '' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** `baseUrl` could not be reached at all (refused, unknown host, timed out): names the URL and the cause. */
export function unreachableError(baseUrl: string, err: unknown): BenchServeError {
  return new BenchServeError(`cannot reach ${baseUrl}: ${networkCause(err)} (is the server running? check --base-url)`, { cause: err });
}
