// buildApp(engine, options) -> a fastify instance speaking OpenAI (vLLM flavour), Hugging Face TGI and
// KServe v2 / Triton generate, with Prometheus metrics. It never listens and installs no signal
// handlers: the CLI (lib/cli/serve.ts) does both.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { packageVersion } from '../cli/version.js';
import { PUBLIC_ROUTES, createApiKeyCheck } from './auth.js';
import type { ServerContext } from './context.js';
import { createCorsHook } from './cors.js';
import { protocolOf, renderError } from './error-render.js';
import { drainingError } from './generation.js';
import { HttpError, toHttpError } from './http-error.js';
import { Lifecycle, type DrainResult } from './lifecycle.js';
import { ServerMetrics } from './metrics.js';
import { registerKserve } from './routes/kserve/routes.js';
import { registerChat } from './routes/openai/chat.js';
import { registerCompletions } from './routes/openai/completions.js';
import { registerModels } from './routes/openai/models.js';
import { registerTgi } from './routes/tgi/routes.js';
import type { ServingEngine } from './serving-engine.js';
import { schemaErrorToHttp, type SchemaError } from './validation.js';

export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

export interface ServerOptions {
  /** Names clients may use for the model (default: the engine's model name). The first is reported. */
  servedModelNames?: string[];
  /** Where the model came from, for /v1/models `root` (default: the engine's model name). */
  modelSource?: string;
  /** With a key, every route except health, readiness and metrics requires it. */
  apiKey?: string | null;
  /** Origins allowed to call from a browser ('*' for any). None by default. */
  allowedOrigins?: string[];
  /** Largest accepted request body in bytes (default 10 MiB); larger ones get 413. */
  bodyLimit?: number;
  /** A pino logger for requests and errors, or false for none (default: none). */
  logger?: Logger | false;
  /** Node process metrics on /metrics (default true). */
  processMetrics?: boolean;
  /** The chat template the engine was given (chat routes and /tokenize render with it). */
  chatTemplate?: string;
}

/** What the CLI needs beyond the fastify instance: drain before close. */
export interface ServerHandle {
  readonly lifecycle: Lifecycle;
  readonly metrics: ServerMetrics;
  /** Readiness goes false and new requests get 503; running ones get up to `timeoutMs` to finish. */
  drain(timeoutMs: number): Promise<DrainResult>;
}

declare module 'fastify' {
  interface FastifyInstance {
    kvserve: ServerHandle;
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function buildApp(engine: ServingEngine, options: ServerOptions = {}): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const loggerInstance = options.logger ? (options.logger as unknown as FastifyBaseLogger) : undefined;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    // Requests are logged once, on completion, by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    routerOptions: { maxParamLength: 512 },
    genReqId: (req) => {
      const header = req.headers['x-request-id'];
      return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID().replace(/-/g, '');
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, verbose: true } },
  });

  const servedModelNames = options.servedModelNames?.length ? options.servedModelNames : [engine.modelName];
  const lifecycle = new Lifecycle();
  const metrics = new ServerMetrics(engine, servedModelNames[0] ?? engine.modelName, { processMetrics: options.processMetrics ?? true });
  const ctx: ServerContext = {
    engine,
    metrics,
    lifecycle,
    servedModelNames,
    modelName: servedModelNames[0] ?? engine.modelName,
    modelSource: options.modelSource ?? engine.modelName,
    version: packageVersion(),
    ...(options.chatTemplate !== undefined ? { chatTemplate: options.chatTemplate } : {}),
  };
  app.decorate('kvserve', {
    lifecycle,
    metrics,
    drain: (timeoutMs: number) => lifecycle.drain(timeoutMs),
  } satisfies ServerHandle);

  // Every body is JSON whatever its content type: `curl -d` sends form-urlencoded, Triton ignores it.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, parseJson);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  if (options.allowedOrigins?.length) app.addHook('onRequest', createCorsHook(options.allowedOrigins));
  if (options.apiKey) {
    const check = createApiKeyCheck(options.apiKey);
    app.addHook('onRequest', async (request) => check(request));
  }
  app.addHook('onRequest', async (request) => {
    if (!lifecycle.draining) return;
    const route = request.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    throw drainingError();
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const httpError = classify(error, bodyLimit);
    if (httpError.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    const rendered = renderError(httpError, protocolOf(request.url));
    reply.code(rendered.statusCode).headers(rendered.headers).send(rendered.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new HttpError(404, 'not_found', `Route ${request.method}:${request.url.split('?')[0] ?? ''} not found`);
    const rendered = renderError(err, protocolOf(request.url));
    reply.code(rendered.statusCode).send(rendered.body);
  });

  // vLLM's health (200 while serving, 503 once draining), version and metrics.
  app.get('/health', async (_request, reply) => reply.code(lifecycle.draining ? 503 : 200).send());
  app.get('/version', async () => ({ version: ctx.version }));
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });

  registerModels(app, ctx);
  registerCompletions(app, ctx);
  registerChat(app, ctx);
  registerTgi(app, ctx);
  registerKserve(app, ctx);
  return app;
}

function classify(error: FastifyError, bodyLimit: number): HttpError {
  if (error instanceof HttpError) return error;
  if (error.validation) return schemaErrorToHttp(error.validation as unknown as SchemaError[]);
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'payload_too_large', `Request body is larger than the limit of ${bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, 'unsupported_media_type', error.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'invalid_request', 'body: expected a JSON object, got an empty body');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new HttpError(400, 'invalid_request', `body: expected valid JSON, got a parse error (${error.message})`);
  }
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new HttpError(status, status === 404 ? 'not_found' : 'invalid_request', error.message);
  }
  return toHttpError(error);
}
