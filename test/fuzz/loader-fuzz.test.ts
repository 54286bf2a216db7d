// A short pass of the coverage-guided loader fuzzer (bench/fuzz/loaders.ts runs the long one) on
// every target, seeded with ../shared/models: no input breaks the loaders' contract (a KvserveError
// or success, never another exception or a KvserveError hiding an internal TypeError / RangeError),
// the coverage feedback finds inputs that reach new code, and every saved regression input
// (test/fuzz/regressions/<target>/<case>/) still loads cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LoaderFuzzer } from '../../bench/fuzz/js/fuzzer.js';
import { TARGETS, classify } from '../../bench/fuzz/js/targets.js';
import { MODELS, modelPath } from '../helpers/models.js';

const SECONDS_PER_TARGET = Number(process.env.KVSERVE_FUZZ_SECONDS ?? 3);
const REGRESSIONS = join(import.meta.dirname, 'regressions');

for (const target of TARGETS) {
  test(`loader fuzz ${target.name}: ${SECONDS_PER_TARGET} s from the shared models, no contract violation`, async (t) => {
    if (modelPath(t, MODELS.stories260kGguf) === null) return;
    const workDir = join('/tmp', `kvserve-fuzz-test-${target.name}-${process.pid}`);
    t.after(() => rmSync(workDir, { recursive: true, force: true }));
    const fuzzer = new LoaderFuzzer({ target, workDir, seed: 20_240_601 });
    try {
      await fuzzer.loadSeeds();
      const stats = await fuzzer.fuzz({ timeMs: SECONDS_PER_TARGET * 1000 });
      t.diagnostic(`${stats.executions} executions (${stats.execsPerSecond.toFixed(0)}/s), corpus ${stats.numSeeds} -> ${stats.corpusSize}, ${stats.blocks} blocks`);
      assert.deepEqual(stats.findings.map((f) => `${f.problem}\n${f.stack}`), []);
      assert.ok(stats.executions > 0);
      if (target.name === 'gguf') {
        // The feedback loop works: mutations of the seeds reach code the seeds did not.
        assert.ok(stats.corpusSize > stats.numSeeds, `corpus stayed at ${stats.corpusSize} (seeds: ${stats.numSeeds})`);
      }
    } finally {
      fuzzer.close();
    }
  });
}

test('loader fuzz regressions: every saved input loads cleanly', async (t) => {
  if (!existsSync(REGRESSIONS)) return;
  for (const target of TARGETS) {
    const dir = join(REGRESSIONS, target.name);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const caseDir = join(dir, name);
      const path = target.entry === 'dir' ? caseDir : join(caseDir, target.files[target.entry] as string);
      let problem: string | null = null;
      await target.run(path).catch((err: unknown) => { problem = classify(err); });
      assert.equal(problem, null, `${target.name}/${name}`);
      t.diagnostic(`${target.name}/${name}: ok`);
    }
  }
});
