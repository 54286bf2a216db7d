// Renders an HttpError in the protocol of the route that failed: OpenAI {error:{message,type,param,code}},
// TGI {error, error_type} (422 for validation, 429 when overloaded), KServe / Triton {error}.
import type { HttpError, ErrorKind } from './http-error.js';

export type Protocol = 'openai' | 'tgi' | 'kserve';

const TGI_PATHS = new Set(['/', '/generate', '/generate_stream', '/info']);

/** Which protocol family a URL belongs to (decides the error shape). */
export function protocolOf(url: string): Protocol {
  const path = url.split('?')[0] ?? url;
  if (path === '/v2' || path.startsWith('/v2/')) return 'kserve';
  if (TGI_PATHS.has(path)) return 'tgi';
  return 'openai';
}

export interface RenderedError {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

const OPENAI_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  unauthorized: 'invalid_request_error',
  not_found: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  overloaded: 'server_error',
  unavailable: 'server_error',
  internal: 'server_error',
  request_timeout: 'invalid_request_error',
  headers_too_large: 'invalid_request_error',
  malformed_http: 'invalid_request_error',
};

const TGI_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'validation',
  unauthorized: 'unauthorized',
  not_found: 'not_found',
  payload_too_large: 'validation',
  unsupported_media_type: 'validation',
  overloaded: 'overloaded',
  unavailable: 'unavailable',
  internal: 'generation',
  request_timeout: 'validation',
  headers_too_large: 'validation',
  malformed_http: 'validation',
};

export function renderError(err: HttpError, protocol: Protocol): RenderedError {
  switch (protocol) {
    case 'openai':
      return {
        statusCode: err.statusCode,
        headers: err.headers,
        body: {
          error: {
            message: err.message,
            type: OPENAI_TYPE[err.kind],
            param: err.param,
            code: err.code ?? defaultOpenAiCode(err.kind),
          },
        },
      };
    case 'tgi': {
      // TGI answers validation errors with 422 and an overloaded queue with 429.
      let statusCode = err.statusCode;
      if (err.kind === 'invalid_request') statusCode = 422;
      else if (err.kind === 'overloaded') statusCode = 429;
      else if (err.kind === 'internal') statusCode = 424;
      const message = err.kind === 'invalid_request' ? `Input validation error: ${err.message}` : err.message;
      return { statusCode, headers: err.headers, body: { error: message, error_type: TGI_TYPE[err.kind] } };
    }
    case 'kserve':
      return { statusCode: err.statusCode, headers: err.headers, body: { error: err.message } };
  }
}

function defaultOpenAiCode(kind: ErrorKind): string | null {
  switch (kind) {
    case 'unauthorized': return 'invalid_api_key';
    case 'overloaded': return 'overloaded';
    case 'unavailable': return 'service_unavailable';
    case 'request_timeout': return 'request_timeout';
    case 'headers_too_large': return 'request_header_fields_too_large';
    case 'malformed_http': return 'malformed_http';
    default: return null;
  }
}
