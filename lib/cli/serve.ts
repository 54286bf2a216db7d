// `kvserve serve [model]`: load the engine (with progress; the demo model when none is named),
// listen, and on SIGTERM/SIGINT drain: readiness goes false, new requests get 503, running ones finish
// within --shutdown-timeout, then the server and engine close and the process exits 0. The only place
// that installs signal handlers.
import { pino, type Logger } from 'pino';
import { printNotice, resolveCliModel } from './model-arg.js';
import { Engine } from '../engine/engine.js';
import { KvserveError } from '../errors.js';
import { setLogger } from '../log.js';
import { buildApp } from '../server/app.js';
import { SERVE_HELP, parseServeArgs, type ServeConfig } from './serve-flags.js';

interface LoadProgress {
  phase: string;
  fraction: number;
  detail?: string;
}

/** Load progress: a redrawn line on a terminal, a log line per phase step otherwise. */
function progressReporter(log: Logger): { report(p: LoadProgress): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = '';
  return {
    report(p) {
      const pct = Math.round(Math.min(1, Math.max(0, p.fraction)) * 100);
      if (tty) {
        const width = 24;
        const filled = Math.round((pct / 100) * width);
        process.stderr.write(`\r${p.phase} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${p.detail ?? ''}\x1b[K`);
        return;
      }
      const key = `${p.phase}:${Math.floor(pct / 25)}:${p.detail ?? ''}`;
      if (key === last) return;
      last = key;
      log.info({ phase: p.phase, percent: pct, detail: p.detail }, `${p.phase} ${pct}%${p.detail ? `: ${p.detail}` : ''}`);
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** KV cache summary: blocks, tokens and how many sequences of the full model length fit at once. */
export function kvCapacitySummary(capacity: { numBlocks: number; blockSize: number; numTokens: number }, maxModelLen: number) {
  const maxConcurrency = capacity.numTokens / maxModelLen;
  return {
    numBlocks: capacity.numBlocks,
    blockSize: capacity.blockSize,
    numTokens: capacity.numTokens,
    maxModelLen,
    maxConcurrency: Number(maxConcurrency.toFixed(2)),
    message: `KV cache: ${capacity.numBlocks} blocks of ${capacity.blockSize} tokens = ${capacity.numTokens} tokens; ` +
      `maximum concurrency for ${maxModelLen} tokens per request: ${maxConcurrency.toFixed(2)}x`,
  };
}

const FLAG_NAMES: Record<string, string> = {
  maxModelLen: '--max-model-len',
  kvCacheMemory: '--kv-cache-memory',
  kvCacheDtype: '--kv-cache-dtype',
  maxNumSeqs: '--max-num-seqs',
  maxNumBatchedTokens: '--max-num-batched-tokens',
  maxNumQueuedRequests: '--max-num-queued-requests',
  blockSize: '--block-size',
  threads: '--threads',
  schedulingPolicy: '--scheduling-policy',
  maxDecodeSlowdown: '--max-decode-slowdown',
};

export function flagNames(message: string): string {
  return message.replace(/\b(maxModelLen|kvCacheMemory|kvCacheDtype|maxNumSeqs|maxNumBatchedTokens|maxNumQueuedRequests|blockSize|threads|schedulingPolicy|maxDecodeSlowdown)\b/g,
    (name) => FLAG_NAMES[name] ?? name);
}

export async function serve(config: ServeConfig, log: Logger): Promise<number> {
  const progress = progressReporter(log);
  const notice: string[] = [];
  const { model } = await resolveCliModel(config.engine.model || undefined, 'serve', (line) => notice.push(line));
  if (notice.length > 0) {
    // Plain lines for the person at the terminal (as generate prints them), and one log record.
    for (const line of notice) printNotice(line);
    log.warn({ demoModel: true }, notice.join(' '));
  }
  log.info({ model }, `loading ${model}`);
  let engine: Engine;
  try {
    engine = await Engine.create({ ...config.engine, model, onProgress: (p: LoadProgress) => progress.report(p), onWarning: (m: string) => log.warn(m) });
  } catch (err) {
    progress.done();
    // The engine names its options; the command line knows them as flags.
    if (err instanceof KvserveError) throw new KvserveError(err.code, flagNames(err.message), { cause: err });
    throw err;
  }
  progress.done();
  const kv = kvCapacitySummary(engine.kvCapacity, engine.maxModelLen);
  const { message, ...fields } = kv;
  log.info(fields, message);

  const app = buildApp(engine, {
    servedModelNames: config.servedModelNames,
    modelSource: model,
    apiKey: config.apiKey,
    allowedOrigins: config.allowedOrigins,
    bodyLimit: config.bodyLimit,
    maxHeaderSize: config.maxHeaderSize,
    requestTimeoutMs: config.requestTimeoutS * 1000,
    logRequests: config.logRequests,
    logger: log,
    ...(config.engine.chatTemplate !== undefined ? { chatTemplate: config.engine.chatTemplate } : {}),
  });
  let address: string;
  try {
    address = await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await engine.close();
    throw err;
  }
  const names = config.servedModelNames.length > 0 ? config.servedModelNames : [engine.modelName];
  log.info({ address, model: names[0], apiKey: config.apiKey !== null }, `serving ${names.join(', ')} on ${address}`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, timeoutS: config.shutdownTimeoutS, inFlight: app.kvserve.lifecycle.numInFlight }, 'draining: readiness is false, new requests get 503');
      void (async () => {
        let code = 0;
        try {
          const result = await app.kvserve.drain(config.shutdownTimeoutS * 1000);
          log.info({ aborted: result.numAborted, ms: Math.round(result.elapsedMs) }, 'drained');
          await app.close();
          await engine.close();
        } catch (err) {
          log.error({ err }, 'shutdown failed');
          code = 1;
        }
        process.off('SIGTERM', shutdown);
        process.off('SIGINT', shutdown);
        log.info('stopped');
        resolve(code);
      })();
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });
}

export async function run(argv: string[]): Promise<number> {
  const config = parseServeArgs(argv);
  if (config === 'help') {
    console.log(SERVE_HELP);
    return 0;
  }
  const log = pino({ name: 'kvserve', level: config.logLevel });
  setLogger(log);
  return serve(config, log);
}
