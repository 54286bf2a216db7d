// API-key check, deny by default: with a key configured every route answers 401 without it, except the
// probes in PUBLIC_ROUTES (health, readiness, metrics). Keys are compared in constant time on hashes.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-error.js';

/** Route patterns (as registered) reachable without a key. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  '/health',
  '/metrics',
  '/v2/health/live',
  '/v2/health/ready',
  '/v2/models/:model/ready',
  '/v2/models/:model/versions/:version/ready',
]);

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The key a request presents: `Authorization: Bearer <key>` (OpenAI, HF clients) or `x-api-key`. */
export function presentedKey(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m?.[1]) return m[1].trim();
  }
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  return null;
}

/** Builds the onRequest check for one key (the caller skips it when no key is configured). */
export function createApiKeyCheck(apiKey: string): (request: FastifyRequest) => void {
  const expected = digest(apiKey);
  return (request) => {
    const route = request.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route) && (request.method === 'GET' || request.method === 'HEAD')) return;
    const key = presentedKey(request);
    // Compare fixed-length digests so neither length nor content leaks through timing.
    if (key !== null && timingSafeEqual(digest(key), expected)) return;
    throw new HttpError(401, 'unauthorized', key === null
      ? 'Missing API key: send it as "Authorization: Bearer <key>"'
      : 'Incorrect API key provided', { headers: { 'www-authenticate': 'Bearer' } });
  };
}
