// Runs every CUDA kernel family's test program on the CPU emulator (native/cuda_emu): each program
// compares its CUDA kernels with the CPU kernels on the same inputs, at several shapes. Here each runs
// under forward, reverse and random thread orders, and then once per __syncthreads site that ran
// with that barrier removed (KV_EMU_DROP_SYNC), which must make the program fail: every barrier in the
// kernels is needed and the tests notice its absence. AddressSanitizer and the emulated tensor-core
// paths run in kernels-asan.test.ts. Programs are built by scripts/cuda-emu-tests.mjs (cached in
// build-cuda-emu/).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFamily, haveCompiler, isIntegration, listFamilies, parseOutput, runProgram } from '../../scripts/cuda-emu-tests.mjs';

const SCHEDULES = ['forward', 'reverse', 'random'] as const;
const families: string[] = listFamilies();
const compiler = haveCompiler();
const exes = new Map<string, string>();

function skipReason(): string | undefined {
  if (compiler) return undefined;
  if (process.env.CI === 'true') throw new Error('CI needs g++ for the CUDA emulator tests');
  return 'no C++ compiler (g++)';
}

before(async () => {
  if (!compiler) return;
  const built = await Promise.all(families.map((f) => buildFamily(f, 'plain')));
  families.forEach((f, i) => exes.set(f, built[i] as string));
});

function exeOf(family: string): string {
  const exe = exes.get(family);
  assert.ok(exe, `${family} was not built`);
  return exe;
}

for (const family of families) {
  // Integration programs (the whole CUDA backend) run under two orders; their kernels' barriers are
  // checked one by one in the kernel families.
  const integration = compiler && isIntegration(family);
  const schedules = integration ? (['forward', 'random'] as const) : SCHEDULES;
  test(`cuda ${family}: matches the CPU under ${schedules.join(', ')} thread orders`, { skip: skipReason() }, () => {
    for (const schedule of schedules) {
      const r = runProgram(exeOf(family), { env: { KV_EMU_SCHEDULE: schedule, KV_EMU_SEED: '20240601' } });
      const { passed, failed } = parseOutput(r.output);
      assert.equal(r.status, 0, `${family} (${schedule}): ${failed.join('\n') || r.output}`);
      assert.ok(passed.length > 0, `${family} (${schedule}) ran no test`);
    }
  });

  if (integration) continue;
  test(`cuda ${family}: removing any one __syncthreads makes its tests fail`, { skip: skipReason() }, (t) => {
    const { sites } = parseOutput(runProgram(exeOf(family), { env: { KV_EMU_SCHEDULE: 'forward' } }).output);
    if (sites.length === 0) {
      t.diagnostic(`${family} has no __syncthreads`);
      return;
    }
    for (const site of sites) {
      const caughtBy = SCHEDULES.find((schedule) => {
        const r = runProgram(exeOf(family), { env: { KV_EMU_SCHEDULE: schedule, KV_EMU_DROP_SYNC: site, KV_EMU_SEED: '7' } });
        return r.status !== 0;
      });
      assert.ok(caughtBy, `${family}: without the __syncthreads at ${site} every test still passes`);
      t.diagnostic(`${site}: caught under the ${caughtBy} order`);
    }
  });
}

test('cuda emulator: deadlocks and misused warp collectives abort with a report', { skip: skipReason() }, () => {
  const cases: Array<[string, RegExp]> = [
    ['death_divergent_barrier', /different __syncthreads sites: .*emulator_test\.cu:\d+.*emulator_test\.cu:\d+/],
    ['death_deadlock', /deadlock in kernel waits_forever_kernel[\s\S]*__syncwarp at emulator_test\.cu:\d+[\s\S]*__syncthreads at/],
    ['death_shuffle_reads_absent_lane', /reads lane 0, which did not take part/],
  ];
  for (const [name, pattern] of cases) {
    const r = runProgram(exeOf('emulator'), { args: [name] });
    assert.equal(r.signal, 'SIGABRT', `${name} should abort: ${r.output}`);
    assert.match(r.output, pattern);
  }
});
