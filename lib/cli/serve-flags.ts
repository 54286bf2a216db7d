// `kvserve serve` flags, named as vLLM names them, parsed into the engine's options and the server's.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isDecodeSlowdown } from '../engine/engine-options.js';
import { invalidArgument } from '../errors.js';
import { DEFAULT_BODY_LIMIT } from '../server/app.js';
import { DEFAULT_MAX_HEADER_SIZE, DEFAULT_REQUEST_TIMEOUT_MS } from '../server/http-limits.js';
import { parseDurationSeconds, parseInteger, parseStringList } from './flag-values.js';
import { parseByteSize } from './parse-size.js';

export const SERVE_HELP = `usage: kvserve serve [model] [options]

<model> is a GGUF file, a Hugging Face model directory or a hub id (or give it with --model);
with none, the built-in demo model (meaningless output) is served.
  --revision <rev>                 hub revision (branch, tag or commit; default main)

server:
  --host <addr>                    address to listen on (default 127.0.0.1)
  --port <n>                       port (default 8000; 0 picks a free one)
  --served-model-name <name>       name(s) clients use for the model (repeat or comma-separate)
  --api-key <key>                  require "Authorization: Bearer <key>" (default $KVSERVE_API_KEY)
  --allowed-origins <list>         CORS origins allowed from browsers ('*', a JSON list or a comma list)
  --max-request-body <size>        largest request body (default 10MiB); larger gets 413
  --max-header-size <size>         largest request head, request line and headers (default 16KiB); larger gets 431
  --request-timeout <time>         time a client gets to send its whole request (default 60s); then 408
  --enable-log-requests            log each request's body, prompts included (off: prompts are never logged)
  --shutdown-timeout <time>        on SIGTERM, how long running requests may finish (default 30s)
  --log-level <level>              pino level: fatal error warn info debug trace silent (default info)

engine:
  --max-model-len <n>              context length (default: the model's)
  --max-num-seqs <n>               most sequences in one step
  --max-num-batched-tokens <n>     token budget of one step
  --max-num-queued-requests <n>    waiting-queue bound, >= 1 (default: unbounded); a full queue answers 503 (429 on TGI)
  --kv-cache-memory <size>         KV cache size, e.g. 2GiB or 512MiB
  --kv-cache-dtype <dtype>         auto | f32 | f16 | bf16
  --block-size <n>                 tokens per KV block
  --enable-prefix-caching / --no-enable-prefix-caching
  --scheduling-policy <policy>     fcfs | priority
  --max-decode-slowdown <x>        while streams decode, a step carrying new prompt tokens takes at most x times
                                   a decode-only step (default 0: no limit, prompts take the whole budget)
  --async-scheduling / --no-async-scheduling
                                   build each decode step while the one before it runs (default on)
  --chat-template <file|template>  chat template (a file path, or the template itself)
  --threads <n>                    CPU threads for the native kernels`;

export type KvCacheDtype = 'f32' | 'f16' | 'bf16';

/** Engine options as the serve flags set them (each absent unless given). */
export interface ServeEngineOptions {
  /** Empty: the built-in demo model (lib/cli/model-arg.ts). */
  model: string;
  revision?: string;
  maxModelLen?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  kvCacheMemory?: number;
  kvCacheDtype?: KvCacheDtype;
  blockSize?: number;
  enablePrefixCaching?: boolean;
  asyncScheduling?: boolean;
  threads?: number;
  maxNumQueuedRequests?: number;
  schedulingPolicy?: 'fcfs' | 'priority';
  maxDecodeSlowdown?: number;
  chatTemplate?: string;
}

export interface ServeConfig {
  host: string;
  port: number;
  servedModelNames: string[];
  apiKey: string | null;
  allowedOrigins: string[];
  bodyLimit: number;
  maxHeaderSize: number;
  requestTimeoutS: number;
  logRequests: boolean;
  shutdownTimeoutS: number;
  logLevel: string;
  engine: ServeEngineOptions;
}

const DTYPES: Record<string, KvCacheDtype | null> = {
  auto: null, f32: 'f32', float32: 'f32', fp32: 'f32', f16: 'f16', float16: 'f16', fp16: 'f16', half: 'f16', bf16: 'bf16', bfloat16: 'bf16',
};
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function readChatTemplate(value: string): string {
  if (existsSync(value)) return readFileSync(value, 'utf8');
  if (value.includes('{{') || value.includes('{%')) return value;
  throw invalidArgument('--chat-template', 'a template file that exists or a template string containing {{ or {%', value);
}

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'served-model-name': { type: 'string', multiple: true },
      'api-key': { type: 'string' },
      'allowed-origins': { type: 'string' },
      'max-request-body': { type: 'string' },
      'max-header-size': { type: 'string' },
      'request-timeout': { type: 'string' },
      'enable-log-requests': { type: 'boolean' },
      'shutdown-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'max-model-len': { type: 'string' },
      'max-num-seqs': { type: 'string' },
      'max-num-batched-tokens': { type: 'string' },
      'max-num-queued-requests': { type: 'string' },
      'kv-cache-memory': { type: 'string' },
      'kv-cache-dtype': { type: 'string' },
      'block-size': { type: 'string' },
      'enable-prefix-caching': { type: 'boolean' },
      'no-enable-prefix-caching': { type: 'boolean' },
      'async-scheduling': { type: 'boolean' },
      'no-async-scheduling': { type: 'boolean' },
      'scheduling-policy': { type: 'string' },
      'max-decode-slowdown': { type: 'string' },
      'chat-template': { type: 'string' },
      revision: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw invalidArgument('serve', 'one model path', positionals.join(' '));
  const model = values.model ?? positionals[0];
  if (values.model !== undefined && positionals[0] !== undefined && values.model !== positionals[0]) {
    throw invalidArgument('--model', `the same model as the positional one (${positionals[0]})`, values.model);
  }
  if (values['enable-prefix-caching'] && values['no-enable-prefix-caching']) {
    throw invalidArgument('--enable-prefix-caching', 'either --enable-prefix-caching or --no-enable-prefix-caching', 'both');
  }
  if (values['async-scheduling'] && values['no-async-scheduling']) {
    throw invalidArgument('--async-scheduling', 'either --async-scheduling or --no-async-scheduling', 'both');
  }
  const engine: ServeEngineOptions = { model: model ?? '' };
  if (values.revision !== undefined) engine.revision = values.revision;
  const int = (flag: string, key: keyof ServeEngineOptions, min: number): void => {
    const value = values[flag as keyof typeof values];
    if (typeof value === 'string') (engine as unknown as Record<string, unknown>)[key] = parseInteger(`--${flag}`, value, min);
  };
  int('max-model-len', 'maxModelLen', 1);
  int('max-num-seqs', 'maxNumSeqs', 1);
  int('max-num-batched-tokens', 'maxNumBatchedTokens', 1);
  // At least 1, as the engine requires (0 would only fail later, after the model has loaded); absent: unbounded.
  int('max-num-queued-requests', 'maxNumQueuedRequests', 1);
  int('block-size', 'blockSize', 1);
  int('threads', 'threads', 1);
  if (values['kv-cache-memory'] !== undefined) engine.kvCacheMemory = parseByteSize('--kv-cache-memory', values['kv-cache-memory']);
  if (values['kv-cache-dtype'] !== undefined) {
    const dtype = DTYPES[values['kv-cache-dtype'].toLowerCase()];
    if (dtype === undefined) throw invalidArgument('--kv-cache-dtype', 'one of auto, f32, f16, bf16', values['kv-cache-dtype']);
    if (dtype !== null) engine.kvCacheDtype = dtype;
  }
  if (values['enable-prefix-caching']) engine.enablePrefixCaching = true;
  if (values['no-enable-prefix-caching']) engine.enablePrefixCaching = false;
  if (values['async-scheduling']) engine.asyncScheduling = true;
  if (values['no-async-scheduling']) engine.asyncScheduling = false;
  if (values['scheduling-policy'] !== undefined) {
    const policy = values['scheduling-policy'];
    if (policy !== 'fcfs' && policy !== 'priority') throw invalidArgument('--scheduling-policy', 'fcfs or priority', policy);
    engine.schedulingPolicy = policy;
  }
  if (values['max-decode-slowdown'] !== undefined) {
    const text = values['max-decode-slowdown'];
    const x = Number(text);
    if (text.trim() === '' || !isDecodeSlowdown(x)) throw invalidArgument('--max-decode-slowdown', 'a number >= 1, or 0 for no limit', text);
    engine.maxDecodeSlowdown = x;
  }
  if (values['chat-template'] !== undefined) engine.chatTemplate = readChatTemplate(values['chat-template']);

  const logLevel = values['log-level'] ?? env.KVSERVE_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) throw invalidArgument('--log-level', [...LOG_LEVELS].join(', '), logLevel);
  const apiKey = values['api-key'] ?? env.KVSERVE_API_KEY ?? null;
  if (apiKey === '') throw invalidArgument('--api-key', 'a non-empty key', apiKey);
  return {
    host: values.host ?? '127.0.0.1',
    port: parseInteger('--port', values.port ?? '8000', 0, 65535),
    servedModelNames: (values['served-model-name'] ?? []).flatMap((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== '')),
    apiKey,
    allowedOrigins: values['allowed-origins'] !== undefined ? parseStringList('--allowed-origins', values['allowed-origins']) : [],
    bodyLimit: values['max-request-body'] !== undefined ? parseByteSize('--max-request-body', values['max-request-body']) : DEFAULT_BODY_LIMIT,
    maxHeaderSize: values['max-header-size'] !== undefined ? parseByteSize('--max-header-size', values['max-header-size']) : DEFAULT_MAX_HEADER_SIZE,
    requestTimeoutS: values['request-timeout'] !== undefined ? parseDurationSeconds('--request-timeout', values['request-timeout']) : DEFAULT_REQUEST_TIMEOUT_MS / 1000,
    logRequests: values['enable-log-requests'] ?? false,
    shutdownTimeoutS: values['shutdown-timeout'] !== undefined ? parseDurationSeconds('--shutdown-timeout', values['shutdown-timeout']) : 30,
    logLevel,
    engine,
  };
}
