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
import { DEFAULT_MAX_HEADER_SIZE, DEFAULT_REQUEST_TIMEOUT_MS, RequestPaths, createClientErrorHandler, frameworkErrorHandler, httpServerOptions, strictJsonBodyParser } from './http-limits.js';
import { Lifecycle, type DrainResult } from './lifecycle.js';
import { ServerMetrics } from './metrics.js';
import { registerKserve } from './routes/kserve/routes.js';
import { registerChat } from './routes/openai/chat.js';
import { registerCompletions } from './routes/openai/completions.js';
import { registerModels } from './routes/openai/models.js';
import { registerTgi } from './routes/tgi/routes.js';
import { withPromptGuard } from './prompt-guard.js';
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
  /** Time a client gets to send its whole request before a 408 (default 60 s). */
  requestTimeoutMs?: number;
  /** Largest request head in bytes (default 16 KiB); larger gets 431. */
  maxHeaderSize?: number;
  /** Log each request's body (prompts included) when it arrives; off by default (vLLM's --enable-log-requests). */
  logRequests?: boolean;
}

/** A registered route, as fastify's onRoute hook reports it. */
export interface RouteInfo {
  method: string;
  url: string;
}

/** What the CLI needs beyond the fastify instance: drain before close. */
export interface ServerHandle {
  readonly lifecycle: Lifecycle;
  readonly metrics: ServerMetrics;
  /** Readiness goes false and new requests get 503; running ones get up to `timeoutMs` to finish. */
  drain(timeoutMs: number): Promise<DrainResult>;
  /** Every route registered (HEAD twins of GET routes included). */
  readonly routes: readonly RouteInfo[];
}

declare module 'fastify' {
  interface FastifyInstance {
    kvserve: ServerHandle;
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** Longest request body written to the log with logRequests. */
const MAX_LOGGED_BODY_CHARS = 4096;

export function buildApp(engine: ServingEngine, options: ServerOptions = {}): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const loggerInstance = options.logger ? (options.logger as unknown as FastifyBaseLogger) : undefined;
  const requestPaths = new RequestPaths();
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    ...httpServerOptions({
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    }),
    clientErrorHandler: createClientErrorHandler((socket) => requestPaths.pathOf(socket)),
    frameworkErrors: frameworkErrorHandler,
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
    engine: withPromptGuard(engine),
    metrics,
    lifecycle,
    servedModelNames,
    modelName: servedModelNames[0] ?? engine.modelName,
    modelSource: options.modelSource ?? engine.modelName,
    version: packageVersion(),
    ...(options.chatTemplate !== undefined ? { chatTemplate: options.chatTemplate } : {}),
  };
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.decorate('kvserve', {
    lifecycle,
    metrics,
    drain: (timeoutMs: number) => lifecycle.drain(timeoutMs),
    routes,
  } satisfies ServerHandle);

  // Every body is UTF-8 JSON whatever its content type: `curl -d` sends form-urlencoded, Triton ignores it.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, strictJsonBodyParser(parseJson));

  app.addHook('onRequest', async (request, reply) => {
    requestPaths.record(request);
    reply.header('x-request-id', request.id);
  });
  if (options.logRequests) {
    // Prompts are user data: logged only when asked for (--enable-log-requests).
    app.addHook('preHandler', async (request) => {
      if (request.body === undefined) return;
      // Bounded, as vLLM's --max-log-len: a 10 MB prompt must not become a 10 MB log line.
      const text = JSON.stringify(request.body);
      const body = text.length <= MAX_LOGGED_BODY_CHARS ? text : `${text.slice(0, MAX_LOGGED_BODY_CHARS)}... (${text.length - MAX_LOGGED_BODY_CHARS} more characters)`;
      request.log.info({ body }, 'received request');
    });
  }
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
