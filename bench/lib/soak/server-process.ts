// The server under soak, as a child process: a real engine on a real model behind buildApp, listening
// on 127.0.0.1 (port 0). Its parent asks it over IPC for engine.stats(), its RSS and how the aborted
// requests ended, so the figures are the server's alone (the load generator lives in another process).
// Requests reach the engine through a pass-through observer that notes, for each aborted request,
// where it was: still waiting, in its prefill (scheduled, no token yet) or decoding.
// Config: KVSERVE_SOAK_CONFIG (JSON: { model, engine: EngineOptions, server: ServerOptions }).
import { Engine } from '../../../lib/engine/engine.js';
import type { EngineOptions } from '../../../lib/engine/engine-options.js';
import type { GenerateEvent } from '../../../lib/engine/types.js';
import { buildApp, type ServerOptions } from '../../../lib/server/app.js';
import type { ServingEngine } from '../../../lib/server/serving-engine.js';

export interface SoakServerConfig {
  engine: EngineOptions;
  server: ServerOptions;
}

export interface AbortPhases {
  waiting: number;
  prefill: number;
  decode: number;
}

export interface SoakServerStats {
  stats: ReturnType<Engine['stats']>;
  rss: number;
  aborts: AbortPhases;
  finished: Record<string, number>;
}

const config = JSON.parse(process.env.KVSERVE_SOAK_CONFIG ?? '{}') as SoakServerConfig;
const engine = await Engine.create(config.engine);
const aborts: AbortPhases = { waiting: 0, prefill: 0, decode: 0 };
const finished: Record<string, number> = {};

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
    const reply: SoakServerStats = { stats: engine.stats(), rss: process.memoryUsage().rss, aborts: { ...aborts }, finished: { ...finished } };
    process.send?.({ type: 'stats', id: m.id, ...reply });
  } else if (m.type === 'close') {
    void (async () => {
      await app.close();
      await engine.close();
      process.disconnect?.();
    })();
  }
});
process.send?.({ type: 'ready', url, kvCapacity: engine.kvCapacity, maxModelLen: engine.maxModelLen });
