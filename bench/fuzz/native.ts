// Coverage-guided fuzzing (libFuzzer, ASan + UBSan) of the native code that consumes untrusted bytes
// and descriptions: ModelWeights (tensor descriptions vs. file), the step-input and sampling-parameter
// validation (with the kernels run on what passes), and the row dequantizers (native/fuzz explains
// each target). Seeds come from ../shared/models. Default: 1,000,000 executions per target.
//
//   node --import tsx bench/fuzz/native.ts [--runs 1000000] [--target weights,...] [--out bench/results/fuzz-native]
// A crash leaves libFuzzer's crash-* / timeout-* / oom-* file in <out>/<target>/; once fixed, copy it
// into native/fuzz/regressions/<target>/ (replayed by test/fuzz/native-fuzz.test.ts).
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, printTable } from '../lib/stats.js';
import { NATIVE_TARGETS, buildNativeFuzzers, clangAvailable, regressionInputs, runLibFuzzer, writeNativeSeeds, type NativeTarget } from './native-targets.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    target: { type: 'string' },
    out: { type: 'string', default: 'bench/results/fuzz-native' },
  },
});
if (!clangAvailable()) {
  console.error('clang++ not found: apt-get install clang (Debian\'s clang ships libFuzzer and the sanitizers)');
  process.exit(2);
}
const targets = (values.target ? values.target.split(',') : [...NATIVE_TARGETS]) as NativeTarget[];
const out = values.out as string;
console.log('building native/fuzz (clang++ -fsanitize=fuzzer,address,undefined) ...');
buildNativeFuzzers();
const seeds = join(out, 'seeds');
writeNativeSeeds(seeds);
const rows: string[][] = [];
let failed = 0;
for (const target of targets) {
  const work = join(out, target);
  const corpus = join(work, 'corpus');
  mkdirSync(corpus, { recursive: true });
  const regressions = regressionInputs(target);
  if (regressions.length > 0) {
    const replay = await runLibFuzzer(target, regressions, work);
    if (replay.exitCode !== 0) {
      console.log(`[${target}] a regression input fails again:\n${replay.output.slice(-3000)}`);
      failed++;
    }
  }
  console.log(`fuzzing ${target}: ${values.runs} executions`);
  const start = performance.now();
  const r = await runLibFuzzer(target, [`-runs=${values.runs}`, '-timeout=10', '-rss_limit_mb=4096', corpus, join(seeds, target)], work);
  const seconds = (performance.now() - start) / 1000;
  const crashes = readdirSync(work).filter((f) => /^(crash|timeout|oom|leak)-/.test(f));
  if (r.exitCode !== 0 || crashes.length > 0) {
    failed++;
    console.log(`[${target}] libFuzzer exited ${r.exitCode}; findings: ${crashes.join(', ') || '(see output)'}\n${r.output.slice(-3000)}`);
  }
  rows.push([target, String(r.executions), fmt(r.executions / seconds, 0), fmt(seconds, 0), String(r.coverage), String(r.features), String(r.corpus), String(crashes.length)]);
}
console.log();
printTable(['target', 'executions', 'exec/s', 'seconds', 'edges', 'features', 'corpus', 'crashes'], rows);
process.exitCode = failed > 0 ? 1 : 0;
