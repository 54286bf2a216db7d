// The server under soak, as a child process: a real engine on a real model behind buildApp, listening
// on 127.0.0.1 (port 0). Its parent asks it over IPC for engine.stats(), its RSS and how the aborted
// requests ended, so the figures are the server's alone (the load generator lives in another process).
// Requests reach the engine through a pass-through observer that notes, for each aborted request,
// where it was: still waiting, in its prefill (scheduled, no token yet) or decoding. For prompts
// marked as a during-prefill client's ("<index>. ..."), it tells the parent once the engine has
// scheduled the request and no token is out yet, so that client leaves in the middle of its prefill
// (read from the engine's per-request state, which the final event's metrics also come from).
// SIGTERM drains as `kvserve serve` does (lib/cli/serve.ts): readiness goes false, new requests get
// 503, the streams in flight finish within the shutdown timeout; then it reports the drain and the
// engine's state after it (stats, /metrics) over IPC, closes the server and the engine, and exits 0.
// A stats request may ask for a full GC first (a settled sample: the memory the server retains).
// Config: KVSERVE_SOAK_CONFIG (JSON: { engine: EngineOptions, server: ServerOptions, shutdownTimeoutMs }).
import { Engine } from '../../../lib/engine/engine.js';
import type { EngineOptions } from '../../../lib/engine/engine-options.js';
import type { GenerateEvent } from '../../../lib/engine/types.js';
import { buildApp, type ServerOptions } from '../../../lib/server/app.js';
import type { ServingEngine } from '../../../lib/server/serving-engine.js';

export interface SoakServerConfig {
  engine: EngineOptions;
  server: ServerOptions;
  shutdownTimeoutMs: number;
}

export interface AbortPhases {
  waiting: number;
  prefill: number;
  decode: number;
}

export interface SoakServerStats {
  stats: ReturnType<Engine['stats']>;
  /** Requests the server holds (taken by a route, not yet finished). */
  inFlight: number;
  rss: number;
  /** V8 heap in use (after the last GC's effect), bytes. */
  heapUsed: number;
  aborts: AbortPhases;
  finished: Record<string, number>;
}

export interface SoakDrainReport extends SoakServerStats {
  /** Requests the server held when the signal arrived. */
  inFlightAtSignal: number;
  /** Requests the drain had to abort (still running at the shutdown timeout). */
  aborted: number;
  drainMs: number;
  metrics: string;
}

const config = JSON.parse(process.env.KVSERVE_SOAK_CONFIG ?? '{}') as SoakServerConfig;
const engine = await Engine.create(config.engine);
const aborts: AbortPhases = { waiting: 0, prefill: 0, decode: 0 };
const finished: Record<string, number> = {};

// During-prefill clients: soak index -> engine request id, until they are told.
const watched = new Map<number, string>();
let watchTimer: NodeJS.Timeout | null = null;
interface SampleTimes { firstScheduledTime: number | null; firstTokenTime: number | null }
const engineSamples = (engine as unknown as { samples: Map<string, SampleTimes> }).samples;

function watchPrefill(prompt: Parameters<ServingEngine['generate']>[0], requestId: string | undefined): void {
  if (requestId === undefined) return;
  const text = typeof prompt === 'string' ? prompt : engine.tokenizer.decode(prompt.promptTokenIds.slice(0, 8));
  const m = /^\s*(\d+)\. /.exec(text);
  if (!m) return;
  watched.set(Number(m[1]), requestId);
  watchTimer ??= setInterval(() => {
    for (const [index, id] of watched) {
      const times = engineSamples.get(id);
      if (!times) {
        watched.delete(index);
      } else if (times.firstScheduledTime !== null) {
        watched.delete(index);
        if (times.firstTokenTime === null) process.send?.({ type: 'prefilling', index });
      }
    }
    if (watched.size === 0 && watchTimer) {
      clearInterval(watchTimer);
      watchTimer = null;
    }
  }, 1);
}

function observe(event: GenerateEvent): void {
  if (event.type !== 'final') return;
  finished[event.finishReason] = (finished[event.finishReason] ?? 0) + 1;
  if (event.finishReason !== 'abort') return;
  const m = event.metrics;
  if (m.firstScheduledTime === null) aborts.waiting++;
  else if (m.firstTokenTime === null) aborts.prefill++;
  else aborts.decode++;
}

const observed: ServingEngine = {
  generate(prompt, params, options) {
    const inner = engine.generate(prompt, params, options);
    // The engine takes the request asynchronously (tokenization first): watch from the next turn.
    setImmediate(() => watchPrefill(prompt, options?.requestId));
    const it: AsyncIterableIterator<GenerateEvent> = {
      async next() {
        const r = await inner.next();
        if (!r.done) observe(r.value);
        return r;
      },
      return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  },
  stats: () => engine.stats(),
  tokenizer: engine.tokenizer,
  get modelName() { return engine.modelName; },
  get maxModelLen() { return engine.maxModelLen; },
  get kvCapacity() { return engine.kvCapacity; },
  config: engine.config,
};

const app = buildApp(observed, { processMetrics: false, ...config.server });
const url = await app.listen({ host: '127.0.0.1', port: 0 });

process.on('message', (raw) => {
  const m = raw as { type: string; id?: number };
  if (m.type === 'stats') {
    // A settled sample: after a full GC (the process runs with --expose-gc), so that what V8 has not
    // yet collected does not count as memory the server keeps.
    if ((m as { gc?: boolean }).gc) (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: 'stats', id: m.id, ...snapshot() });
  } else if (m.type === 'close') {
    void (async () => {
      await app.close();
      await engine.close();
      process.disconnect?.();
    })();
  }
});
const snapshot = (): SoakServerStats => ({ stats: engine.stats(), inFlight: app.kvserve.lifecycle.numInFlight, rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed, aborts: { ...aborts }, finished: { ...finished } });

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  const inFlight = app.kvserve.lifecycle.numInFlight;
  void (async () => {
    const drain = app.kvserve.drain(config.shutdownTimeoutMs);
    process.send?.({ type: 'draining' });
    const result = await drain;
    // Blocks of requests aborted at the very end are freed on the next loop turn.
    let after = snapshot();
    for (let i = 0; i < 50 && after.stats.numRunning + after.stats.numWaiting + after.stats.kvBlocksUsed > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = snapshot();
    }
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const report: SoakDrainReport = { ...after, inFlightAtSignal: inFlight, aborted: result.numAborted, drainMs: result.elapsedMs, metrics };
    await new Promise<void>((resolve) => { if (!process.send?.({ type: 'drained', ...report }, undefined, {}, () => resolve())) resolve(); });
    await app.close();
    await engine.close();
    process.disconnect?.();
  })();
});

process.send?.({ type: 'ready', url, kvCapacity: engine.kvCapacity, maxModelLen: engine.maxModelLen });
