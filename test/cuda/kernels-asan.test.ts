// The CUDA kernel test programs again (see kernels.test.ts), built with AddressSanitizer and run once
// under a random thread order: out-of-bounds reads or writes of device buffers, of the dynamic shared
// memory (bytes past the launch's size are poisoned) and of fiber stacks abort the program. Families
// whose kernels have a tensor-core path (KV_WMMA) are also built with it on (the emulated nvcuda::wmma)
// and run under all three orders. Integration programs (the whole backend, whose kernels all have
// their own families here) are left out of both, to keep the suite fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFamily, hasWmmaPath, haveCompiler, isIntegration, listFamilies, parseOutput, runProgram } from '../../scripts/cuda-emu-tests.mjs';

const compiler = haveCompiler();
const families: string[] = listFamilies().filter((f) => !compiler || !isIntegration(f));

function skipReason(): string | undefined {
  if (compiler) return undefined;
  if (process.env.CI === 'true') throw new Error('CI needs g++ for the CUDA emulator tests');
  return 'no C++ compiler (g++)';
}

for (const family of families) {
  test(`cuda ${family}: clean under AddressSanitizer`, { skip: skipReason() }, async () => {
    const exe = await buildFamily(family, 'asan');
    const r = runProgram(exe, { env: { KV_EMU_SCHEDULE: 'random', KV_EMU_SEED: '99' }, timeoutMs: 300_000 });
    const { passed, failed } = parseOutput(r.output);
    assert.equal(r.status, 0, `${family} under ASan: ${failed.join('\n') || r.output}`);
    assert.ok(passed.length > 0, `${family} under ASan ran no test`);
  });
}

for (const family of compiler ? families.filter((f) => hasWmmaPath(f)) : []) {
  test(`cuda ${family}: tensor-core (WMMA) path matches the CPU kernels under every thread order`, async () => {
    const exe = await buildFamily(family, 'wmma');
    for (const schedule of ['forward', 'reverse', 'random']) {
      const r = runProgram(exe, { env: { KV_EMU_SCHEDULE: schedule } });
      assert.equal(r.status, 0, `${family} WMMA (${schedule}): ${parseOutput(r.output).failed.join('\n') || r.output}`);
    }
  });
}
