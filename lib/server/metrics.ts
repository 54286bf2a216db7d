// Prometheus metrics with vLLM's names and labels (model_name, and engine as vLLM V1 adds: one engine, "0"), on a registry owned by one app (never
// prom-client's global one, so several apps can live in one process). Load and KV gauges and the
// engine's cumulative counters are read from engine.stats() at scrape time; latencies are observed
// per request as events stream through (see RequestTracker).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FinalEvent, GenerateEvent } from '../engine/types.js';
import type { ServingEngine } from './serving-engine.js';

const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
];
const TOKEN_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const REQUEST_BUCKETS = [
  0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];
const TOKEN_COUNT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

/** The labels every vLLM V1 engine metric carries. */
type Labels = 'model_name' | 'engine';

export interface ServerMetricsOptions {
  /** Node process metrics (CPU, memory, GC, event-loop lag). Default true. */
  processMetrics?: boolean;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly labels: { model_name: string; engine: string };
  private readonly ttft: Histogram<Labels>;
  private readonly itl: Histogram<Labels>;
  private readonly tpot: Histogram<Labels>;
  private readonly e2e: Histogram<Labels>;
  private readonly queueTime: Histogram<Labels>;
  private readonly prefillTime: Histogram<Labels>;
  private readonly decodeTime: Histogram<Labels>;
  private readonly requestPromptTokens: Histogram<Labels>;
  private readonly requestGenerationTokens: Histogram<Labels>;
  private readonly promptTokens: Counter<Labels>;
  private readonly generationTokens: Counter<Labels>;
  private readonly success: Counter<Labels | 'finished_reason'>;

  constructor(engine: ServingEngine, modelName: string, options: ServerMetricsOptions = {}) {
    const registers = [this.registry];
    const labelNames = ['model_name', 'engine'] as const;
    const labels = { model_name: modelName, engine: '0' };
    this.labels = labels;

    new Gauge({
      name: 'vllm:num_requests_running', help: 'Number of requests in model execution batches.', labelNames, registers,
      collect() { this.set(labels, engine.stats().numRunning); },
    });
    new Gauge({
      name: 'vllm:num_requests_waiting', help: 'Number of requests waiting to be processed.', labelNames, registers,
      collect() { this.set(labels, engine.stats().numWaiting); },
    });
    new Gauge({
      name: 'vllm:kv_cache_usage_perc', help: 'KV-cache usage. 1 means 100 percent usage.', labelNames, registers,
      collect() { this.set(labels, engine.stats().kvCacheUsage); },
    });
    const cumulative = (name: string, help: string, read: () => number): void => {
      new Counter({
        name, help, labelNames, registers,
        collect() { this.reset(); this.inc(labels, read()); },
      });
    };
    cumulative('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', () => engine.stats().prefixCacheQueries);
    cumulative('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', () => engine.stats().prefixCacheHits);
    cumulative('vllm:num_preemptions_total', 'Cumulative number of preemptions from the engine.', () => engine.stats().numPreemptions);
    const { numBlocks, blockSize } = engine.kvCapacity;
    const cacheInfo = new Gauge({
      name: 'vllm:cache_config_info', help: 'Information of the KV cache config.',
      labelNames: ['block_size', 'num_gpu_blocks', 'engine'] as const, registers,
    });
    cacheInfo.set({ block_size: String(blockSize), num_gpu_blocks: String(numBlocks), engine: '0' }, 1);

    this.promptTokens = new Counter({ name: 'vllm:prompt_tokens_total', help: 'Number of prefill tokens processed.', labelNames, registers });
    this.generationTokens = new Counter({ name: 'vllm:generation_tokens_total', help: 'Number of generation tokens processed.', labelNames, registers });
    this.success = new Counter({
      name: 'vllm:request_success_total', help: 'Count of successfully processed requests.',
      labelNames: ['model_name', 'engine', 'finished_reason'] as const, registers,
    });
    const histogram = (name: string, help: string, buckets: number[]): Histogram<Labels> =>
      new Histogram({ name, help, labelNames, buckets, registers });
    this.ttft = histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', LATENCY_BUCKETS);
    this.itl = histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', TOKEN_LATENCY_BUCKETS);
    this.tpot = histogram('vllm:request_time_per_output_token_seconds', 'Histogram of time_per_output_token_seconds per request.', TOKEN_LATENCY_BUCKETS);
    this.e2e = histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_BUCKETS);
    this.queueTime = histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_BUCKETS);
    this.prefillTime = histogram('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_BUCKETS);
    this.decodeTime = histogram('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_BUCKETS);
    this.requestPromptTokens = histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', TOKEN_COUNT_BUCKETS);
    this.requestGenerationTokens = histogram('vllm:request_generation_tokens', 'Number of generation tokens processed.', TOKEN_COUNT_BUCKETS);

    // Unset label combinations would only appear after the first request; show zeros from the start.
    this.promptTokens.inc(labels, 0);
    this.generationTokens.inc(labels, 0);
    for (const reason of ['stop', 'length', 'abort']) this.success.inc({ ...labels, finished_reason: reason }, 0);

    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    }
  }

  /** Follows one engine request's events (all its samples) and records its latencies and counts. */
  startRequest(): RequestTracker {
    return new RequestTracker(this);
  }

  /** @internal */
  observeInterToken(seconds: number): void {
    this.itl.observe(this.labels, seconds);
  }

  /** @internal */
  observeFinal(event: FinalEvent, countPrompt: boolean): void {
    const labels = this.labels;
    const m = event.metrics;
    const numGenerated = event.tokenIds.length;
    if (countPrompt) {
      this.promptTokens.inc(labels, event.usage.promptTokens);
      this.requestPromptTokens.observe(labels, event.usage.promptTokens);
      this.e2e.observe(labels, Math.max(0, m.finishedTime - m.arrivalTime) / 1000);
      if (m.firstScheduledTime !== null) {
        this.queueTime.observe(labels, Math.max(0, m.firstScheduledTime - m.arrivalTime) / 1000);
      }
      if (m.firstTokenTime !== null) {
        this.ttft.observe(labels, Math.max(0, m.firstTokenTime - m.arrivalTime) / 1000);
        if (m.firstScheduledTime !== null) {
          this.prefillTime.observe(labels, Math.max(0, m.firstTokenTime - m.firstScheduledTime) / 1000);
        }
        this.decodeTime.observe(labels, Math.max(0, m.finishedTime - m.firstTokenTime) / 1000);
      }
    }
    this.generationTokens.inc(labels, numGenerated);
    this.requestGenerationTokens.observe(labels, numGenerated);
    if (m.firstTokenTime !== null && numGenerated > 1) {
      this.tpot.observe(labels, Math.max(0, m.finishedTime - m.firstTokenTime) / 1000 / (numGenerated - 1));
    }
    this.success.inc({ ...labels, finished_reason: event.finishReason }, 1);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Per-request observer: inter-token gaps per sample as deltas arrive, the rest at each sample's end. */
export class RequestTracker {
  private readonly metrics: ServerMetrics;
  private readonly lastTokenAt = new Map<number, number>();
  private promptCounted = false;

  constructor(metrics: ServerMetrics) {
    this.metrics = metrics;
  }

  onEvent(event: GenerateEvent, now = performance.now()): void {
    if (event.type === 'delta') {
      if (event.tokenIds.length === 0) return;
      const last = this.lastTokenAt.get(event.index);
      // One observation per delta: tokens the detokenizer held back arrive together, after one gap.
      if (last !== undefined) this.metrics.observeInterToken((now - last) / 1000);
      this.lastTokenAt.set(event.index, now);
      return;
    }
    this.metrics.observeFinal(event, !this.promptCounted);
    this.promptCounted = true;
  }
}
