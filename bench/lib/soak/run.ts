// One soak run: start the server process, take every distinct request's greedy reference one request
// at a time, then run the planned requests at the given concurrency while sampling the server's RSS,
// and gather the figures the reliability claims rest on (bench/soak.ts prints them; the reduced CI run
// in test/server/soak.test.ts asserts them).
import { fork, type ChildProcess } from 'node:child_process';
import type { EngineOptions } from '../../../lib/engine/engine-options.js';
import type { ServerOptions } from '../../../lib/server/app.js';
import { planRequests, referenceKey, runRequest, soakPrompts, type Disconnect, type Outcome, type SoakRequest } from './requests.js';
import type { SoakServerStats } from './server-process.js';

export interface SoakOptions {
  model: string;
  numRequests: number;
  concurrency: number;
  /** Share of clients that disconnect (0.3 = 30 %). */
  disconnectShare: number;
  seed: number;
  maxTokens: readonly number[];
  /** A request still open after this long is "hung". */
  requestTimeoutMs: number;
  engine?: Partial<EngineOptions>;
  server?: ServerOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface RssSample {
  ms: number;
  rss: number;
}

export interface SoakReport {
  numRequests: number;
  numReferences: number;
  completed: number;
  /** Completed requests whose text differs from their reference. */
  mismatches: string[];
  disconnected: Record<Disconnect, number>;
  /** Early disconnects that happened before any response byte. */
  disconnectedBeforeBytes: number;
  failed: Array<{ index: number; route: string; status: number; error: string }>;
  hung: number;
  fiveHundreds: number;
  seconds: number;
  requestsPerSecond: number;
  after: SoakServerStats;
  metricsAfter: { running: number | null; waiting: number | null; kvUsage: number | null; aborted: number | null };
  rss: { samples: RssSample[]; q2: number; q4: number; change: number };
  kvCapacityTokens: number;
}

interface ServerHandle {
  child: ChildProcess;
  url: string;
  kvTokens: number;
  stats(): Promise<SoakServerStats>;
  close(): Promise<void>;
}

async function startServer(model: string, engine: Partial<EngineOptions>, server: ServerOptions): Promise<ServerHandle> {
  const config = {
    engine: { model, maxModelLen: 512, kvCacheMemory: '2MiB', kvCacheDtype: 'f32', threads: 1, maxNumSeqs: 64, maxNumBatchedTokens: 256, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}', ...engine },
    server: { servedModelNames: ['stories'], chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}', ...server },
  };
  const child = fork(new URL('./server-process.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, KVSERVE_SOAK_CONFIG: JSON.stringify(config), KVSERVE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (s: SoakServerStats) => void>();
  let nextId = 0;
  const ready = new Promise<{ url: string; kvCapacity: { numTokens: number } }>((resolve, reject) => {
    child.on('message', (raw) => {
      const m = raw as { type: string; id?: number; url?: string; kvCapacity?: { numTokens: number } } & SoakServerStats;
      if (m.type === 'ready') resolve({ url: m.url as string, kvCapacity: m.kvCapacity as { numTokens: number } });
      if (m.type === 'stats' && m.id !== undefined) {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      }
    });
    child.once('exit', (code) => reject(new Error(`the soak server exited (${code}) before it was ready`)));
  });
  const { url, kvCapacity } = await ready;
  return {
    child,
    url,
    kvTokens: kvCapacity.numTokens,
    stats: () => new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ type: 'stats', id });
    }),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[s.length >> 1] as number);
}

function metric(text: string, name: string): number | null {
  const m = new RegExp(`^${name.replace(/[:]/g, '\\:')}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const server = await startServer(o.model, o.engine ?? {}, o.server ?? {});
  try {
    const prompts = soakPrompts();
    const plan = planRequests(o.numRequests, o.seed, o.disconnectShare, o.maxTokens);

    // References: every distinct (route, prompt, max tokens), alone, before any load.
    const reference = new Map<string, string>();
    for (const r of plan) {
      const key = referenceKey(r);
      if (reference.has(key)) continue;
      const outcome = await runRequest(server.url, { ...r, disconnect: null }, prompts, o.requestTimeoutMs);
      if (outcome.kind !== 'completed') throw new Error(`reference ${key} did not complete: ${JSON.stringify(outcome)}`);
      reference.set(key, outcome.text);
    }

    const samples: RssSample[] = [];
    const start = performance.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await server.stats();
        samples.push({ ms: performance.now() - start, rss: s.rss });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const outcomes: Array<[SoakRequest, Outcome]> = [];
    let next = 0;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (next < plan.length) {
        const r = plan[next++] as SoakRequest;
        outcomes.push([r, await runRequest(server.url, r, prompts, o.requestTimeoutMs)]);
        o.onProgress?.(outcomes.length, plan.length);
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    sampling = false;
    await sampler;

    // Everything settles: no request left running or waiting, no KV block in use.
    let after = await server.stats();
    for (let i = 0; i < 100 && (after.stats.numRunning + after.stats.numWaiting + after.stats.kvBlocksUsed > 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await server.stats();
    }
    const metricsText = await (await fetch(`${server.url}/metrics`)).text();

    const report: SoakReport = {
      numRequests: plan.length,
      numReferences: reference.size,
      completed: 0,
      mismatches: [],
      disconnected: { 'before-first-token': 0, 'during-prefill': 0, 'mid-stream': 0 },
      disconnectedBeforeBytes: 0,
      failed: [],
      hung: 0,
      fiveHundreds: 0,
      seconds,
      requestsPerSecond: plan.length / seconds,
      after,
      metricsAfter: {
        running: metric(metricsText, 'vllm:num_requests_running'),
        waiting: metric(metricsText, 'vllm:num_requests_waiting'),
        kvUsage: metric(metricsText, 'vllm:kv_cache_usage_perc'),
        aborted: /vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} (\S+)/.exec(metricsText)?.[1] !== undefined
          ? Number(/vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} (\S+)/.exec(metricsText)?.[1]) : null,
      },
      rss: { samples, q2: NaN, q4: NaN, change: NaN },
      kvCapacityTokens: server.kvTokens,
    };
    for (const [r, out] of outcomes) {
      if (out.kind === 'completed') {
        report.completed++;
        const want = reference.get(referenceKey(r));
        if (out.text !== want) report.mismatches.push(`#${r.index} ${referenceKey(r)}: ${JSON.stringify(out.text)} != ${JSON.stringify(want)}`);
      } else if (out.kind === 'disconnected') {
        report.disconnected[r.disconnect as Disconnect]++;
        if (!out.gotBytes) report.disconnectedBeforeBytes++;
      } else if (out.kind === 'failed') {
        report.failed.push({ index: r.index, route: r.route, status: out.status, error: out.error });
        if (out.status >= 500) report.fiveHundreds++;
      } else {
        report.hung++;
      }
    }
    if (outcomes.length !== plan.length) throw new Error(`lost requests: ${plan.length - outcomes.length}`);
    const end = samples[samples.length - 1]?.ms ?? 0;
    const inQuarter = (q: number): number[] => samples.filter((s) => s.ms >= (end * (q - 1)) / 4 && s.ms < (end * q) / 4 + (q === 4 ? 1 : 0)).map((s) => s.rss);
    report.rss.q2 = median(inQuarter(2));
    report.rss.q4 = median(inQuarter(4));
    report.rss.change = (report.rss.q4 - report.rss.q2) / report.rss.q2;
    return report;
  } finally {
    await server.close();
  }
}

export function formatReport(r: SoakReport): string {
  const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
  const lines = [
    `requests: ${r.numRequests} (${r.numReferences} distinct, each with a reference taken alone) in ${r.seconds.toFixed(1)} s, ${r.requestsPerSecond.toFixed(1)} req/s`,
    `completed: ${r.completed}, equal to their greedy reference: ${r.completed - r.mismatches.length}, different: ${r.mismatches.length}`,
    `client disconnects: before the first token ${r.disconnected['before-first-token']}, during a long prefill ${r.disconnected['during-prefill']}, mid-stream ${r.disconnected['mid-stream']} (${r.disconnectedBeforeBytes} before any response byte)`,
    `server-side aborts: ${r.after.aborts.waiting} while waiting, ${r.after.aborts.prefill} during prefill, ${r.after.aborts.decode} while decoding; finished: ${JSON.stringify(r.after.finished)}`,
    `failed: ${r.failed.length} (5xx: ${r.fiveHundreds}), hung (no end within the per-request timeout): ${r.hung}, lost: 0`,
    `after: running ${r.after.stats.numRunning}, waiting ${r.after.stats.numWaiting}, KV blocks used ${r.after.stats.kvBlocksUsed}/${r.after.stats.kvBlocksTotal}; /metrics running ${r.metricsAfter.running}, waiting ${r.metricsAfter.waiting}, kv usage ${r.metricsAfter.kvUsage}, aborts ${r.metricsAfter.aborted}`,
    `preemptions: ${r.after.stats.numPreemptions}; prefix cache hit rate ${(r.after.stats.prefixCacheHitRate * 100).toFixed(1)} %; KV capacity ${r.kvCapacityTokens} tokens`,
    `server RSS: median ${mb(r.rss.q2)} MiB in the second quarter, ${mb(r.rss.q4)} MiB in the last (${(r.rss.change * 100).toFixed(2)} %), ${r.rss.samples.length} samples`,
  ];
  return lines.join('\n');
}
