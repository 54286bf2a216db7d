// One loader-fuzzing process (started by bench/fuzz/loaders.ts): fuzzes one target and reports to
// its parent over IPC. Its inputs are written to KVSERVE_FUZZ_WORKDIR before each run, so when this
// process hangs or dies the parent finds the input that did it there.
// Environment: KVSERVE_FUZZ_TARGET, KVSERVE_FUZZ_WORKDIR, KVSERVE_FUZZ_RUNS, KVSERVE_FUZZ_TIME_MS,
// KVSERVE_FUZZ_SEED.
import { LoaderFuzzer, type FuzzStats } from './fuzzer.js';
import { targetByName } from './targets.js';

function send(message: unknown): void {
  process.send?.(message);
}

const env = process.env;
const target = targetByName(env.KVSERVE_FUZZ_TARGET ?? '');
const fuzzer = new LoaderFuzzer({
  target,
  workDir: env.KVSERVE_FUZZ_WORKDIR ?? `/tmp/kvserve-fuzz-${process.pid}`,
  seed: Number(env.KVSERVE_FUZZ_SEED ?? 1),
  onFinding: (f) => send({ type: 'finding', signature: f.signature, problem: f.problem, stack: f.stack, parts: f.parts.map((p) => p.toString('base64')) }),
});
// The parent's watchdog reads this count of inputs started: when it stops moving, one input hangs
// (blocks the event loop, or never settles).
const heartbeat = setInterval(() => send({ type: 'heartbeat', inputsStarted: fuzzer.inputsStarted }), 500);
const progress = (stats: FuzzStats): void => send({ type: 'stats', stats: { ...stats, findings: stats.findings.length } });
await fuzzer.loadSeeds();
progress(fuzzer.stats());
const stats = await fuzzer.fuzz({
  ...(env.KVSERVE_FUZZ_RUNS ? { runs: Number(env.KVSERVE_FUZZ_RUNS) } : {}),
  ...(env.KVSERVE_FUZZ_TIME_MS ? { timeMs: Number(env.KVSERVE_FUZZ_TIME_MS) } : {}),
}, progress);
send({ type: 'done', stats: { ...stats, findings: stats.findings.length } });
clearInterval(heartbeat);
fuzzer.close();
process.disconnect?.();
