// Coverage-guided fuzzing of the model and tokenizer loaders (lib/model/gguf, lib/model/safetensors,
// lib/model/hf, lib/tokenizer), seeded with ../shared/models (bench/fuzz/js explains the fuzzer).
// Each target runs in its own child process under a watchdog: an input that hangs the process (no
// heartbeat for --hang-timeout) or kills it (a crash, an out-of-memory abort) is saved with the
// input that did it; so is every input breaking the loaders' contract (anything but a KvserveError,
// or a KvserveError hiding an internal TypeError / RangeError).
//
//   node --import tsx bench/fuzz/loaders.ts [--target gguf,...] [--runs N per target] [--time 10m per target]
//        [--jobs 1] [--seed 1] [--out bench/results/fuzz] [--hang-timeout 20s]
// --jobs N fuzzes N targets at once (one process each), as libFuzzer's -jobs does; --runs-for
// gguf=400000,hf-tokenizer=100000 gives single targets their own run count (fast targets get more).
// Findings go to <out>/<target>/<kind>-<n>/ as the target's files; copy one into
// test/fuzz/regressions/<target>/ once fixed, and the test replays it forever.
import { fork } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, printTable } from '../lib/stats.js';
import type { FuzzStats } from './js/fuzzer.js';
import { TARGETS, targetByName } from './js/targets.js';

// What a child reports: its fuzzer's stats with the findings counted (each finding comes as its own message).
type ChildStats = Omit<FuzzStats, 'findings'> & { findings: number };

interface TargetResult {
  stats: ChildStats | null;
  findings: string[];
  restarts: number;
  /** Executions of the children that hung or crashed before the last one. */
  earlierExecutions: number;
}

/** How often a running target prints its progress. */
const PROGRESS_MS = 30_000;

function parseTime(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`--time: expected a duration like 30s or 10m, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number;
  return Number(m[1]) * unit;
}

function saveFinding(out: string, target: string, kind: string, files: Array<[string, Buffer]>, note: string): string {
  let n = 0;
  while (existsSync(join(out, target, `${kind}-${n}`))) n++;
  const dir = join(out, target, `${kind}-${n}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of files) writeFileSync(join(dir, name), data);
  writeFileSync(join(dir, 'FINDING.txt'), `${note}\n`);
  return dir;
}

async function fuzzTarget(name: string, opts: { runs?: number; timeMs?: number; seed: number; out: string; hangMs: number }): Promise<TargetResult> {
  const target = targetByName(name);
  const result: TargetResult = { stats: null, findings: [], restarts: 0, earlierExecutions: 0 };
  const deadline = opts.timeMs !== undefined ? performance.now() + opts.timeMs : Infinity;
  let runsLeft = opts.runs;
  let seed = opts.seed;
  while (performance.now() < deadline && (runsLeft === undefined || runsLeft > 0)) {
    const workDir = join('/dev/shm', `kvserve-fuzz-${name}-${process.pid}-${seed}`);
    const timeLeft = deadline === Infinity ? undefined : Math.max(1000, deadline - performance.now());
    const child = fork(new URL('./js/worker.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
      env: {
        ...process.env,
        KVSERVE_FUZZ_TARGET: name,
        KVSERVE_FUZZ_WORKDIR: workDir,
        KVSERVE_FUZZ_SEED: String(seed),
        ...(runsLeft !== undefined ? { KVSERVE_FUZZ_RUNS: String(runsLeft) } : {}),
        ...(timeLeft !== undefined ? { KVSERVE_FUZZ_TIME_MS: String(Math.round(timeLeft)) } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    let lastBeat = performance.now();
    let lastProgress = performance.now();
    let lastStarted = -1;
    let hung = false;
    let done = false;
    child.on('message', (raw) => {
      const m = raw as { type: string; stats?: ChildStats; problem?: string; stack?: string; parts?: string[]; inputsStarted?: number };
      if (m.type !== 'heartbeat' || m.inputsStarted !== lastStarted) lastBeat = performance.now();
      if (m.type === 'heartbeat') lastStarted = m.inputsStarted ?? lastStarted;
      if (m.type === 'stats' || m.type === 'done') result.stats = m.stats ?? result.stats;
      if (m.type === 'stats' && m.stats && performance.now() - lastProgress > PROGRESS_MS) {
        lastProgress = performance.now();
        const st = m.stats;
        const executed = st.executions + result.earlierExecutions;
        const of = opts.runs !== undefined ? ` of ${opts.runs} (${fmt((100 * executed) / opts.runs, 0)}%)` : '';
        console.log(`[${name}] ${executed} executions${of}, ${fmt(st.execsPerSecond, 0)}/s, corpus ${st.corpusSize}, ${st.blocks} blocks, ${result.findings.length} findings`);
      }
      if (m.type === 'done') done = true;
      if (m.type === 'finding') {
        const files = target.files.map((f, i) => [f, Buffer.from(m.parts?.[i] ?? '', 'base64')] as [string, Buffer]).filter(([, b]) => b.length > 0);
        const dir = saveFinding(opts.out, name, 'contract', files, `${m.problem}\n\n${m.stack}`);
        result.findings.push(`${m.problem} -> ${dir}`);
        console.log(`[${name}] FINDING ${m.problem}\n  saved to ${dir}`);
      }
    });
    let heardFrom = false;
    child.on('message', () => { heardFrom = true; });
    const watchdog = setInterval(() => {
      // Start-up (tsx compiling, seeds loading) gets a minute before the first message.
      const limit = heardFrom ? opts.hangMs : Math.max(60_000, opts.hangMs);
      if (performance.now() - lastBeat > limit) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 500);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearInterval(watchdog);
    const executed = result.stats?.executions ?? 0;
    if (!done) {
      result.earlierExecutions += executed;
      result.stats = null;
      // The input on disk is the one that hung or killed the process.
      const kind = hung ? 'hang' : 'crash';
      const dir = join(opts.out, name, `${kind}-input-${seed}`);
      if (existsSync(workDir)) cpSync(workDir, dir, { recursive: true });
      writeFileSync(join(dir, 'FINDING.txt'), `${kind}: exit code ${code}, signal ${signal}\n${stderr}\n`);
      result.findings.push(`${kind} (exit ${code}, signal ${signal}) -> ${dir}`);
      console.log(`[${name}] ${kind.toUpperCase()} exit ${code} signal ${signal}; input saved to ${dir}`);
      result.restarts++;
      seed++;
      if (runsLeft !== undefined) runsLeft -= Math.max(1, executed);
      if (result.restarts > 5) break;
    } else {
      break;
    }
    rmSync(workDir, { recursive: true, force: true });
  }
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      runs: { type: 'string' },
      time: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'bench/results/fuzz' },
      'hang-timeout': { type: 'string', default: '20s' },
      jobs: { type: 'string', default: '1' },
      'runs-for': { type: 'string', default: '' },
    },
  });
  const runsFor = new Map<string, number>();
  for (const item of (values['runs-for'] as string).split(',').filter(Boolean)) {
    const [target, count] = item.split('=');
    targetByName(target ?? '');
    if (!/^\d+$/.test(count ?? '')) throw new Error(`--runs-for: expected target=count, got ${JSON.stringify(item)}`);
    runsFor.set(target as string, Number(count));
  }
  const jobs = Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs: expected an integer >= 1, got ${JSON.stringify(values.jobs)}`);
  const names = values.target ? values.target.split(',') : TARGETS.map((t) => t.name);
  const runs = values.runs !== undefined ? Number(values.runs) : undefined;
  const timeMs = values.time !== undefined ? parseTime(values.time) : runs === undefined && runsFor.size === 0 ? 60_000 : undefined;
  const results = new Map<string, TargetResult>();
  const queue = [...names];
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const targetRuns = runsFor.get(name) ?? runs;
      console.log(`fuzzing ${name} (${targetRuns !== undefined ? `${targetRuns} runs` : ''}${targetRuns !== undefined && timeMs !== undefined ? ', ' : ''}${timeMs !== undefined ? `${timeMs / 1000} s` : ''})`);
      results.set(name, await fuzzTarget(name, { ...(targetRuns !== undefined ? { runs: targetRuns } : {}), ...(timeMs !== undefined ? { timeMs } : {}), seed: Number(values.seed), out: values.out as string, hangMs: parseTime(values['hang-timeout'] as string) }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, names.length) }, worker));
  const rows: string[][] = [];
  let total = 0;
  let totalFindings = 0;
  for (const name of names) {
    const r = results.get(name) as TargetResult;
    const s = r.stats;
    const executions = (s?.executions ?? 0) + r.earlierExecutions;
    total += executions;
    totalFindings += r.findings.length;
    rows.push([name, String(executions), fmt(s?.execsPerSecond ?? NaN, 0), fmt((s?.elapsedMs ?? NaN) / 1000, 0), `${s?.numSeeds ?? 0} -> ${s?.corpusSize ?? 0}`, String(s?.blocks ?? 0), String(s?.features ?? 0), String(r.findings.length)]);
  }
  console.log();
  printTable(['target', 'executions', 'exec/s', 'seconds', 'corpus (seeds -> now)', 'blocks', 'features', 'findings'], rows);
  console.log(`\ntotal: ${total} executions in ${fmt((performance.now() - started) / 1000, 0)} s with ${jobs} job(s), ${totalFindings} findings`);
  process.exitCode = totalFindings > 0 ? 1 : 0;
}

await main();
