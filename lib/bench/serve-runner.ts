// Drives `kvserve bench serve`: for each concurrency level, sends streaming completions with Poisson
// arrivals (or all at once), at most `concurrency` in flight, for a number of prompts or a duration,
// and summarizes each level the way `vllm bench serve` does.
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchServeError, unreachableError } from './bench-error.js';
import { ProgressBar } from './progress-bar.js';
import { exponentialGap, seededRandom } from './random.js';
import { PromptSource } from './prompt-source.js';
import { runCompletionRequest } from './serve-request.js';
import { summarize, type RequestRecord, type ServeBenchResult } from './serve-stats.js';

export interface ServeBenchOptions {
  baseUrl: string;
  model: string;
  apiKey?: string | undefined;
  /** One run per level: the most requests in flight at once. */
  concurrencies: number[];
  /** Requests per level; or null with a duration. */
  numPrompts: number | null;
  /** Seconds per level during which new requests are sent; or null with numPrompts. */
  durationS: number | null;
  inputLen: number;
  outputLen: number;
  /** Requests per second (Poisson arrivals); Infinity sends as fast as concurrency allows. */
  requestRate: number;
  seed: number;
  /** Progress bar on stderr (default true). */
  progress?: boolean;
}

export interface LevelResult extends ServeBenchResult {
  max_concurrency: number;
  request_rate: number | 'inf';
}

export interface ServeBenchReport {
  date: string;
  backend: 'openai';
  base_url: string;
  model_id: string;
  input_len: number;
  output_len: number;
  num_prompts: number | null;
  duration_s: number | null;
  prompts_sized_by: 'tokenizer' | 'words';
  levels: LevelResult[];
}

/** GET /v1/models; a network failure (nothing listening, unknown host) becomes one clear BenchServeError. */
async function getModels(baseUrl: string, apiKey?: string): Promise<Response> {
  const base = baseUrl.replace(/\/+$/, '');
  try {
    return await fetch(`${base}/v1/models`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  } catch (err) {
    throw unreachableError(base, err);
  }
}

/** Resolves the model name from /v1/models when none was given. */
export async function discoverModel(baseUrl: string, apiKey?: string): Promise<string> {
  const response = await getModels(baseUrl, apiKey);
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw new BenchServeError(`GET ${baseUrl.replace(/\/+$/, '')}/v1/models: HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
  const body = (await response.json()) as { data?: Array<{ id?: string }> };
  const id = body.data?.[0]?.id;
  if (!id) throw new BenchServeError('GET /v1/models listed no model; pass --model');
  return id;
}

async function runLevel(options: ServeBenchOptions, prompts: PromptSource, firstPrompt: number, concurrency: number): Promise<{ level: LevelResult; promptsUsed: number }> {
  const random = seededRandom(options.seed + concurrency);
  const records: RequestRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let peak = 0;
  let failed = 0;
  const bar = options.progress === false ? null : new ProgressBar(`concurrency ${concurrency}`, options.numPrompts, options.durationS);
  const start = performance.now();
  const origin = start / 1000;
  let nextArrival = start;
  let used = 0;
  for (let i = 0; ; i++) {
    if (options.numPrompts !== null && i >= options.numPrompts) break;
    if (options.durationS !== null && performance.now() - start >= options.durationS * 1000) break;
    // Arrivals keep their Poisson schedule; a request that finds every slot busy goes when one frees.
    const wait = nextArrival - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (options.durationS !== null && performance.now() - start >= options.durationS * 1000) break;
    nextArrival += exponentialGap(random, options.requestRate) * 1000;
    const prompt = await prompts.get(firstPrompt + i);
    used = i + 1;
    const task = runCompletionRequest({
      baseUrl: options.baseUrl,
      model: options.model,
      apiKey: options.apiKey,
      prompt: prompt.text,
      promptLen: prompt.promptLen,
      maxTokens: options.outputLen,
    }).then((record) => {
      records.push(record);
      if (!record.success) failed++;
      bar?.update(records.length, failed);
    });
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    peak = Math.max(peak, inFlight.size);
  }
  await Promise.all(inFlight);
  const durationS = (performance.now() - start) / 1000;
  bar?.finish(records.length, failed);
  return {
    level: {
      max_concurrency: concurrency,
      request_rate: Number.isFinite(options.requestRate) ? options.requestRate : 'inf',
      ...summarize(records, durationS, peak, origin),
    },
    promptsUsed: used,
  };
}

export async function runServeBench(options: ServeBenchOptions, onLevel?: (level: LevelResult) => void): Promise<ServeBenchReport> {
  // Every request gets a prompt no earlier one had (see prompt-source.ts): prompts come in chunks of
  // about what one level keeps in flight.
  const prompts = new PromptSource({
    baseUrl: options.baseUrl,
    model: options.model,
    apiKey: options.apiKey,
    inputLen: options.inputLen,
    seed: options.seed,
  }, Math.max(64, ...options.concurrencies.map((c) => 2 * c)));
  const first = await prompts.get(0);
  // One request first, as vLLM does: a misconfigured run fails here with the server's reason.
  const probe = await runCompletionRequest({
    baseUrl: options.baseUrl,
    model: options.model,
    apiKey: options.apiKey,
    prompt: first.text,
    promptLen: first.promptLen,
    maxTokens: Math.min(options.outputLen, 4),
  });
  if (!probe.success) {
    // A request record keeps only fetch's message ("fetch failed"): ask the server once more to tell
    // "nothing is listening" (with its cause) from a server that answered with an error.
    (await getModels(options.baseUrl, options.apiKey)).body?.cancel().catch(() => undefined);
    throw new BenchServeError(`the initial test request to ${options.baseUrl} failed: ${probe.error ?? 'unknown error'}`);
  }
  const levels: LevelResult[] = [];
  let nextPrompt = 1;
  for (const concurrency of options.concurrencies) {
    const { level, promptsUsed } = await runLevel(options, prompts, nextPrompt, concurrency);
    nextPrompt += promptsUsed;
    levels.push(level);
    onLevel?.(level);
  }
  return {
    date: new Date().toISOString(),
    backend: 'openai',
    base_url: options.baseUrl,
    model_id: options.model,
    input_len: options.inputLen,
    output_len: options.outputLen,
    num_prompts: options.numPrompts,
    duration_s: options.durationS,
    prompts_sized_by: prompts.sizedBy,
    levels,
  };
}
