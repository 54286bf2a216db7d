// CORS for browser clients: only origins given with --allowed-origins get Access-Control-* headers
// (none by default). Preflight requests are answered here, before the API-key check, since browsers
// send no credentials on them.
import type { FastifyReply, FastifyRequest } from 'fastify';

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'authorization, content-type, x-api-key, x-request-id';

export function createCorsHook(allowedOrigins: readonly string[]) {
  const any = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || !(any || allowed.has(origin))) return undefined;
    reply.header('access-control-allow-origin', any ? '*' : origin);
    if (!any) reply.header('vary', 'Origin');
    reply.header('access-control-expose-headers', 'x-request-id, retry-after');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      return reply
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', ALLOW_HEADERS)
        .header('access-control-max-age', '600')
        .code(204)
        .send();
    }
    return undefined;
  };
}
