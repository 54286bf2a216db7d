// One soak run: start the server process, take every distinct request's greedy reference one request
// at a time, then run the planned requests at the given concurrency while sampling the server's RSS.
// Once the last request is dispatched and the server holds every open one, the server gets
// SIGTERM while the last wave of streams is in flight: it drains, every stream in flight must still
// end exactly as its reference, and the server reports its state after the drain and exits 0. Probe
// requests sent once it drains must get 503 with Retry-After (or find the listener already closed). Gathers the
// figures the reliability claims rest on (bench/soak.ts prints them; the reduced CI run in
// test/server/soak.test.ts asserts them).
import { fork, type ChildProcess } from 'node:child_process';
import type { EngineOptions } from '../../../lib/engine/engine-options.js';
import type { ServerOptions } from '../../../lib/server/app.js';
import { planRequests, referenceKey, runRequest, soakPrompts, type Disconnect, type Outcome, type SoakRequest } from './requests.js';
import type { SoakDrainReport, SoakServerStats } from './server-process.js';

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
  /** Length of the during-prefill prompt in story repeats (~45 tokens each; default 4). */
  prefillRepeats?: number;
  /** Every how many memory samples (one per 100 ms) one is settled, taken after a full GC (default 5). */
  settleEvery?: number;
  /** The server's --shutdown-timeout for the SIGTERM at the end (default 60 s). */
  shutdownTimeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface RssSample {
  ms: number;
  rss: number;
  heapUsed: number;
  /** Taken right after a full GC in the server. */
  settled: boolean;
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
  sigterm: {
    /** Seconds into the load when the signal was sent. */
    atSeconds: number;
    /** Requests open on the client side when it was sent, and how many of those had their stream's head. */
    clientOpen: number;
    clientStreaming: number;
    /** Requests the server held (its lifecycle count) when the signal arrived. */
    serverInFlight: number;
    /** Requests open at the signal that then completed exactly / differently / disconnected as planned. */
    completedAfter: number;
    disconnectedAfter: number;
    /** Planned requests the server had not yet taken at the signal, refused with 503 (allowed: new work for the server). */
    refused: number;
    /** Probes sent while it drained: refused with 503 + Retry-After, or finding the listener closed; anything else is listed. */
    numProbes: number;
    probesRefused: number;
    probesClosed: number;
    probeProblems: string[];
    /** 503s (planned requests or probes) without Retry-After. */
    refusedWithoutRetryAfter: number;
    /** Streams the drain had to abort at the shutdown timeout. */
    aborted: number;
    drainSeconds: number;
    exitCode: number | null;
  };
  seconds: number;
  requestsPerSecond: number;
  after: SoakServerStats;
  metricsAfter: { running: number | null; waiting: number | null; kvUsage: number | null; aborted: number | null; finished: Record<string, number> };
  /**
   * The server's memory: q2 / q4 / change are medians of the settled RSS samples (after a full GC) in
   * the second and last quarter of the run; raw* the same over all samples (V8's heap grows and
   * shrinks by tens of MiB between major GCs, so raw RSS swings with GC timing).
   */
  rss: { samples: RssSample[]; q2: number; q4: number; change: number; rawQ2: number; rawQ4: number; rawChange: number; heapQ2: number; heapQ4: number };
  kvCapacityTokens: number;
}

interface ServerHandle {
  child: ChildProcess;
  url: string;
  kvTokens: number;
  /** `gc`: run a full GC in the server first (a settled sample). */
  stats(gc?: boolean): Promise<SoakServerStats>;
  /** The server's report after SIGTERM's drain. */
  drained: Promise<SoakDrainReport>;
  exited: Promise<number | null>;
  /** Runs `leave` when the server reports request `index` in its prefill. */
  onPrefill(index: number, leave: () => void): void;
  /** Resolves when the server, signalled, starts its drain. */
  draining: Promise<void>;
  close(): Promise<void>;
}

async function startServer(model: string, engine: Partial<EngineOptions>, server: ServerOptions, shutdownTimeoutMs: number): Promise<ServerHandle> {
  const config = {
    shutdownTimeoutMs,
    // A token budget of 128 per step: a long prompt's prefill (134 or 179 tokens) spans several steps
    // while other streams decode, so clients can leave in the middle of it.
    engine: { model, maxModelLen: 512, kvCacheMemory: '2MiB', kvCacheDtype: 'f32', threads: 1, maxNumSeqs: 64, maxNumBatchedTokens: 128, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}', ...engine },
    server: { servedModelNames: ['stories'], chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}', ...server },
  };
  const child = fork(new URL('./server-process.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, KVSERVE_SOAK_CONFIG: JSON.stringify(config), KVSERVE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (s: SoakServerStats) => void>();
  let nextId = 0;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let onDrained: (r: SoakDrainReport) => void = () => {};
  const drained = new Promise<SoakDrainReport>((resolve, reject) => {
    onDrained = resolve;
    void exited.then((code) => reject(new Error(`the soak server exited (${code}) without reporting its drain`)));
  });
  drained.catch(() => {});
  const prefillWaiters = new Map<number, () => void>();
  let onDraining: () => void = () => {};
  const draining = new Promise<void>((resolve) => { onDraining = resolve; });
  const ready = new Promise<{ url: string; kvCapacity: { numTokens: number } }>((resolve, reject) => {
    child.on('message', (raw) => {
      const m = raw as { type: string; id?: number; url?: string; kvCapacity?: { numTokens: number } } & SoakServerStats;
      if (m.type === 'ready') resolve({ url: m.url as string, kvCapacity: m.kvCapacity as { numTokens: number } });
      if (m.type === 'drained') onDrained(m as unknown as SoakDrainReport);
      if (m.type === 'draining') onDraining();
      if (m.type === 'prefilling') {
        const index = (m as unknown as { index: number }).index;
        prefillWaiters.get(index)?.();
        prefillWaiters.delete(index);
      }
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
    drained,
    exited,
    onPrefill: (index, leave) => { prefillWaiters.set(index, leave); },
    draining,
    stats: (gc = false) => new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ type: 'stats', id, gc });
    }),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'close' });
      else child.kill('SIGTERM');
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
  const server = await startServer(o.model, o.engine ?? {}, o.server ?? {}, o.shutdownTimeoutMs ?? 60_000);
  try {
    const prompts = soakPrompts(o.prefillRepeats);
    // The planned requests, then the probes sent once the server drains (no disconnects among them).
    const numProbes = Math.max(4, o.concurrency >> 2);
    // The last wave (one request per client) asks for twice the most tokens (the during-prefill prompt
    // aside: it fills the model length): it is still streaming at SIGTERM.
    const longest = 2 * Math.max(...o.maxTokens);
    const lastWave = (r: SoakRequest): boolean => r.index >= o.numRequests - o.concurrency && r.disconnect !== 'during-prefill';
    const plan = planRequests(o.numRequests + numProbes, o.seed, o.disconnectShare, o.maxTokens)
      .map((r) => (r.index >= o.numRequests ? { ...r, disconnect: null } : lastWave(r) ? { ...r, maxTokens: longest } : r));

    // References: every distinct (route, prompt, max tokens), alone, before any load.
    const reference = new Map<string, string>();
    for (const r of plan) {
      // A client that leaves during prefill never reads its text; a probe is refused.
      if (r.disconnect === 'during-prefill' || r.index >= o.numRequests) continue;
      const key = referenceKey(r);
      if (reference.has(key)) continue;
      const outcome = await runRequest(server.url, { ...r, disconnect: null }, prompts, o.requestTimeoutMs);
      if (outcome.kind !== 'completed') throw new Error(`reference ${key} did not complete: ${JSON.stringify(outcome)}`);
      reference.set(key, outcome.text);
    }

    const samples: RssSample[] = [];
    const start = performance.now();
    let sampling = true;
    const settleEvery = o.settleEvery ?? 5;
    const sampler = (async () => {
      for (let n = 0; sampling; n++) {
        const settled = n % settleEvery === settleEvery - 1;
        const s = await server.stats(settled);
        samples.push({ ms: performance.now() - start, rss: s.rss, heapUsed: s.heapUsed, settled });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const outcomes: Array<[SoakRequest, Outcome]> = [];
    // Requests in flight: whether their response head came (for a stream: the server holds it).
    const open = new Map<number, { headed: boolean; leavesEarly: boolean }>();
    let signalled = false;
    let openAtSignal = new Set<number>();
    let next = 0;
    let allDispatched: () => void = () => {};
    const dispatched = new Promise<void>((resolve) => { allDispatched = resolve; });
    const load = Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (next < plan.length) {
        // Probes wait for the drain.
        if (next >= o.numRequests) await server.draining;
        if (next >= plan.length) break;
        const r = plan[next++] as SoakRequest;
        if (next === o.numRequests) allDispatched();
        const state = { headed: false, leavesEarly: r.disconnect === 'before-first-token' || r.disconnect === 'during-prefill' };
        open.set(r.index, state);
        const outcome = await runRequest(server.url, r, prompts, o.requestTimeoutMs, {
          onResponse: () => { state.headed = true; },
          signalled: () => signalled,
          onPrefill: (index, leave) => server.onPrefill(index, leave),
        });
        open.delete(r.index);
        outcomes.push([r, outcome]);
        o.onProgress?.(outcomes.length, plan.length);
      }
    }));

    // SIGTERM once the last planned request is dispatched and the server holds every open request that
    // is not about to leave (or 1 s passed): those still unread would be refused as new work.
    await dispatched;
    const takenBy = performance.now() + 1000;
    while (performance.now() < takenBy) {
      const staying = [...open.values()].filter((s) => !s.leavesEarly).length;
      if ((await server.stats()).inFlight >= staying) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    sampling = false;
    const atSeconds = (performance.now() - start) / 1000;
    openAtSignal = new Set(open.keys());
    const clientStreaming = [...open.values()].filter((s) => s.headed).length;
    signalled = true;
    server.child.kill('SIGTERM');
    await load;
    await sampler;
    const seconds = (performance.now() - start) / 1000;
    const drainReport = await server.drained;
    const exitCode = await server.exited;
    const { inFlightAtSignal, aborted, drainMs, metrics: metricsText, ...after } = drainReport;

    const report: SoakReport = {
      numRequests: o.numRequests,
      numReferences: reference.size,
      completed: 0,
      mismatches: [],
      disconnected: { 'before-first-token': 0, 'during-prefill': 0, 'mid-stream': 0 },
      disconnectedBeforeBytes: 0,
      failed: [],
      hung: 0,
      fiveHundreds: 0,
      sigterm: {
        atSeconds,
        clientOpen: openAtSignal.size,
        clientStreaming,
        serverInFlight: inFlightAtSignal,
        completedAfter: 0,
        disconnectedAfter: 0,
        refused: 0,
        numProbes,
        probesRefused: 0,
        probesClosed: 0,
        probeProblems: [],
        refusedWithoutRetryAfter: 0,
        aborted,
        drainSeconds: drainMs / 1000,
        exitCode,
      },
      seconds,
      requestsPerSecond: o.numRequests / seconds,
      after,
      metricsAfter: {
        running: metric(metricsText, 'vllm:num_requests_running'),
        waiting: metric(metricsText, 'vllm:num_requests_waiting'),
        kvUsage: metric(metricsText, 'vllm:kv_cache_usage_perc'),
        aborted: /vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} (\S+)/.exec(metricsText)?.[1] !== undefined
          ? Number(/vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} (\S+)/.exec(metricsText)?.[1]) : null,
        finished: Object.fromEntries([...metricsText.matchAll(/^vllm:request_success_total\{[^}]*finished_reason="(\w+)"[^}]*\} (\S+)$/gm)].map((m) => [m[1] as string, Number(m[2])])),
      },
      rss: { samples, q2: NaN, q4: NaN, change: NaN, rawQ2: NaN, rawQ4: NaN, rawChange: NaN, heapQ2: NaN, heapQ4: NaN },
      kvCapacityTokens: server.kvTokens,
    };
    for (const [r, out] of outcomes) {
      if (r.index >= o.numRequests) {
        if (out.kind === 'failed' && out.status === 503) {
          report.sigterm.probesRefused++;
          if (out.retryAfter === undefined) report.sigterm.refusedWithoutRetryAfter++;
        } else if (out.kind === 'failed' && out.status === 0 && /ECONNREFUSED/.test(out.error)) {
          report.sigterm.probesClosed++;
        } else {
          report.sigterm.probeProblems.push(`probe #${r.index}: ${JSON.stringify(out).slice(0, 200)}`);
        }
        continue;
      }
      if (openAtSignal.has(r.index)) {
        if (out.kind === 'completed') report.sigterm.completedAfter++;
        if (out.kind === 'disconnected') report.sigterm.disconnectedAfter++;
      }
      if (out.kind === 'failed' && out.status === 503 && out.afterSignal) {
        // The drain refusing a request whose head came after the signal: new work, not work in flight.
        report.sigterm.refused++;
        if (out.retryAfter === undefined) report.sigterm.refusedWithoutRetryAfter++;
        continue;
      }
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
    report.numRequests = o.numRequests;
    const end = samples[samples.length - 1]?.ms ?? 0;
    const inQuarter = (q: number, of: 'rss' | 'heapUsed', settledOnly: boolean): number[] => samples
      .filter((s) => (!settledOnly || s.settled) && s.ms >= (end * (q - 1)) / 4 && s.ms < (end * q) / 4 + (q === 4 ? 1 : 0)).map((s) => s[of]);
    report.rss.q2 = median(inQuarter(2, 'rss', true));
    report.rss.q4 = median(inQuarter(4, 'rss', true));
    report.rss.change = (report.rss.q4 - report.rss.q2) / report.rss.q2;
    report.rss.rawQ2 = median(inQuarter(2, 'rss', false));
    report.rss.rawQ4 = median(inQuarter(4, 'rss', false));
    report.rss.rawChange = (report.rss.rawQ4 - report.rss.rawQ2) / report.rss.rawQ2;
    report.rss.heapQ2 = median(inQuarter(2, 'heapUsed', true));
    report.rss.heapQ4 = median(inQuarter(4, 'heapUsed', true));
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
    `SIGTERM at ${r.sigterm.atSeconds.toFixed(1)} s with ${r.sigterm.clientOpen} requests open (${r.sigterm.clientStreaming} streaming; the server held ${r.sigterm.serverInFlight}): ${r.sigterm.completedAfter} then completed exactly, ${r.sigterm.disconnectedAfter} disconnected as planned, ${r.sigterm.refused} not yet taken and refused with 503; ${r.sigterm.numProbes} probes while draining: ${r.sigterm.probesRefused} got 503, ${r.sigterm.probesClosed} found the listener closed, ${r.sigterm.probeProblems.length} otherwise; ${r.sigterm.refusedWithoutRetryAfter} 503s without Retry-After; drain took ${r.sigterm.drainSeconds.toFixed(2)} s, aborted ${r.sigterm.aborted}; exit code ${r.sigterm.exitCode}`,
    `after the drain: running ${r.after.stats.numRunning}, waiting ${r.after.stats.numWaiting}, KV blocks used ${r.after.stats.kvBlocksUsed}/${r.after.stats.kvBlocksTotal}; /metrics running ${r.metricsAfter.running}, waiting ${r.metricsAfter.waiting}, kv usage ${r.metricsAfter.kvUsage}, aborts ${r.metricsAfter.aborted}`,
    `preemptions: ${r.after.stats.numPreemptions}; prefix cache hit rate ${(r.after.stats.prefixCacheHitRate * 100).toFixed(1)} %; KV capacity ${r.kvCapacityTokens} tokens`,
    `server RSS after a full GC (settled): median ${mb(r.rss.q2)} MiB in the second quarter, ${mb(r.rss.q4)} MiB in the last (${(r.rss.change * 100).toFixed(2)} %), ${r.rss.samples.filter((s) => s.settled).length} samples; V8 heap used ${mb(r.rss.heapQ2)} -> ${mb(r.rss.heapQ4)} MiB`,
    `server RSS, every sample: median ${mb(r.rss.rawQ2)} MiB in the second quarter, ${mb(r.rss.rawQ4)} MiB in the last (${(r.rss.rawChange * 100).toFixed(2)} %), ${r.rss.samples.length} samples`,
  ];
  return lines.join('\n');
}
