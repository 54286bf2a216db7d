// Bench worker: HTTP serving. Starts `kvserve serve` on the model in a child process (its own event
// loop, as in production), loads it with `kvserve bench serve`'s runner (lib/bench/serve-runner.ts:
// streaming completions, ignore_eos) at each concurrency for a fixed time, and prints
// `RESULT <json>` with what issue 5's serving targets read: output-token throughput and
// inter-token latency (median, p99) per concurrency.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverModel, runServeBench } from '../../lib/bench/serve-runner.js';

export interface ServeTask {
  path: string;
  threads: number;
  concurrencies: number[];
  inputLen: number;
  outputLen: number;
  /** Seconds of new requests per concurrency level. */
  durationS: number;
  /** --max-num-batched-tokens for the server (its default when absent). */
  maxNumBatchedTokens?: number;
}

export interface ServeLevel {
  concurrency: number;
  completed: number;
  failed: number;
  outputTokensPerS: number;
  medianItlMs: number;
  p99ItlMs: number;
  medianTtftMs: number;
  p99TtftMs: number;
}

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

async function waitReady(baseUrl: string, child: { exitCode: number | null }, log: () => string): Promise<void> {
  const deadline = Date.now() + 5 * 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`kvserve serve exited with ${child.exitCode}:\n${log()}`);
    try {
      const r = await fetch(`${baseUrl}/v1/models`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kvserve serve did not answer within 5 minutes:\n${log()}`);
}

async function measure(task: ServeTask): Promise<ServeLevel[]> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const args = ['--import', 'tsx', join(root, 'lib', 'cli', 'main.ts'), 'serve', task.path, '--host', '127.0.0.1', '--port', String(port),
    '--threads', String(task.threads), '--kv-cache-dtype', 'f16', '--kv-cache-memory', '512MiB', '--log-level', 'warn',
    ...(task.maxNumBatchedTokens ? ['--max-num-batched-tokens', String(task.maxNumBatchedTokens)] : [])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    await waitReady(baseUrl, child, () => stderr);
    const report = await runServeBench({
      baseUrl,
      model: await discoverModel(baseUrl),
      concurrencies: task.concurrencies,
      numPrompts: null,
      durationS: task.durationS,
      inputLen: task.inputLen,
      outputLen: task.outputLen,
      requestRate: Infinity,
      seed: 0,
      progress: false,
    }).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\nserver log:\n${stderr}`);
    });
    return report.levels.map((l) => ({
      concurrency: l.max_concurrency,
      completed: l.completed,
      failed: l.failed,
      outputTokensPerS: l.output_throughput,
      medianItlMs: l.median_itl_ms,
      p99ItlMs: l.p99_itl_ms,
      medianTtftMs: l.median_ttft_ms,
      p99TtftMs: l.p99_ttft_ms,
    }));
  } finally {
    child.kill('SIGKILL');
  }
}

const task = JSON.parse(process.argv[2] ?? '{}') as ServeTask;
const result = await measure(task);
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
