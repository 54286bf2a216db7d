// A real engine on a real tiny model behind buildApp, listening on 127.0.0.1 port 0: one per test file,
// created on first use and closed after the file's tests. Helpers to compare HTTP results with what the
// engine produces directly for the same request.
import { after, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Engine } from '../../lib/engine/engine.js';
import type { EngineOptions } from '../../lib/engine/engine-options.js';
import type { GenerateEvent, PromptInput, SamplingParamsInput } from '../../lib/engine/types.js';
import { buildApp, type ServerOptions } from '../../lib/server/app.js';
import { sseData } from '../../lib/bench/serve-request.js';
import { MODELS, modelPath } from './models.js';

/** Story models have no chat template: a chat is its messages' text, one after another. */
export const STORY_TEMPLATE = '{% for m in messages %}{{ m.content }}{% endfor %}';
export const SERVED_NAME = 'stories';

export interface Served {
  engine: Engine;
  app: FastifyInstance;
  url: string;
}

export function testEngineOptions(path: string, overrides: Partial<EngineOptions> = {}): EngineOptions {
  return { model: path, maxModelLen: 256, kvCacheMemory: '4MiB', threads: 1, chatTemplate: STORY_TEMPLATE, ...overrides };
}

/** Lazily starts one engine + server for the calling test file (skips the test when the model is absent). */
export function servedModel(
  engineOptions: Partial<EngineOptions> = {},
  serverOptions: ServerOptions = {},
  model: string = MODELS.stories260kGguf,
): (t: TestContext) => Promise<Served | null> {
  let pending: Promise<Served> | null = null;
  after(async () => {
    const served = await pending?.catch(() => null);
    if (!served) return;
    await served.app.close();
    await served.engine.close();
  });
  return async (t) => {
    const path = modelPath(t, model);
    if (path === null) return null;
    pending ??= (async () => {
      const engine = await Engine.create(testEngineOptions(path, engineOptions));
      const app = buildApp(engine, { servedModelNames: [SERVED_NAME], chatTemplate: STORY_TEMPLATE, processMetrics: false, ...serverOptions });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      return { engine, app, url };
    })();
    return pending;
  };
}

export interface DirectSample {
  text: string;
  tokenIds: number[];
  finishReason: string;
  stopReason: string | number | undefined;
  logprobs: Array<{ tokenId: number; logprob: number }>;
}

/** What the engine itself generates for a request, sample by sample (the reference for HTTP results). */
export async function direct(engine: Engine, prompt: PromptInput, params: SamplingParamsInput): Promise<DirectSample[]> {
  const samples: DirectSample[] = [];
  const logprobs = new Map<number, Array<{ tokenId: number; logprob: number }>>();
  for await (const event of engine.generate(prompt, params) as AsyncIterable<GenerateEvent>) {
    if (event.type === 'delta') {
      const list = logprobs.get(event.index) ?? [];
      for (const lp of event.logprobs ?? []) list.push({ tokenId: lp.tokenId, logprob: lp.logprob });
      logprobs.set(event.index, list);
    } else {
      samples[event.index] = {
        text: event.text, tokenIds: event.tokenIds, finishReason: event.finishReason, stopReason: event.stopReason,
        logprobs: logprobs.get(event.index) ?? [],
      };
    }
  }
  return samples;
}

/** POSTs JSON and returns the SSE `data:` payloads (parsed unless [DONE]). */
export async function postSse(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; events: unknown[] }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const events: unknown[] = [];
  if (response.body && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    for await (const data of sseData(response.body)) events.push(data === '[DONE]' ? data : JSON.parse(data));
  } else {
    events.push(await response.json());
  }
  return { status: response.status, headers: response.headers, events };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
}

/** Polls until `check` holds (engine state settles within a step or two), failing after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A metric's value from Prometheus text, e.g. metricValue(text, 'vllm:num_requests_running'). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([^{\s]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return null;
}
