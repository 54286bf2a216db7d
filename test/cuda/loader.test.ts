// Choosing and loading the CUDA backend (lib/native/cuda-probe.ts, load.ts) and the CUDA addon itself.
// On a machine without a GPU (this one, CI) the CUDA addon still loads: it runs models on the CPU with
// device 'cpu' exactly as the CPU addon does, reports "no driver" through cudaProbe() in a child
// process, and refuses device 'cuda' with the CUDA runtime's reason instead of crashing. In CI, where
// nvcc exists, the addon must have been built (`npm run build:cuda` in .ci/run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { KvserveError } from '../../lib/errors.js';
import { cudaAddonPath, cudaAvailability, nvidiaDriver, probeCudaAddon, selectCudaAddon } from '../../lib/native/cuda-probe.js';
import { loadNativeAddon } from '../../lib/native/load.js';
import { nativeModelDescription } from '../../lib/native/model-description.js';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import type { NativeAddon } from '../../lib/native/types.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { nvccPresent } from '../helpers/nvcc.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const require = createRequire(import.meta.url);
const builtCudaAddon = join(process.cwd(), 'build-cuda', 'Release', 'kvserve_cuda.node');

function withAddonPath<T>(path: string | undefined, fn: () => T): T {
  const saved = process.env.KVSERVE_CUDA_ADDON;
  if (path === undefined) delete process.env.KVSERVE_CUDA_ADDON;
  else process.env.KVSERVE_CUDA_ADDON = path;
  try {
    cudaAvailability({ refresh: true });
    return fn();
  } finally {
    if (saved === undefined) delete process.env.KVSERVE_CUDA_ADDON;
    else process.env.KVSERVE_CUDA_ADDON = saved;
    cudaAvailability({ refresh: true });
  }
}

function cudaAddonOrSkip(t: { skip: (reason: string) => void }): string | null {
  if (existsSync(builtCudaAddon)) return builtCudaAddon;
  if (process.env.CI === 'true' && nvccPresent()) throw new Error(`${builtCudaAddon} missing: CI must run npm run build:cuda`);
  t.skip('the CUDA addon is not built (npm run build:cuda)');
  return null;
}

test('a missing CUDA addon: auto falls back to the CPU addon, --device cuda says what is missing', () => {
  withAddonPath('/nonexistent/kvserve_cuda.node', () => {
    const a = cudaAvailability();
    assert.equal(a.available, false);
    assert.match(a.reasons.join('\n'), /\/nonexistent\/kvserve_cuda\.node not found: this package has no CUDA build for .*; build it with `npm run build:cuda`/);
    assert.equal(selectCudaAddon('auto'), null);
    assert.equal(selectCudaAddon('cpu'), null);
    assert.equal(loadNativeAddon({ device: 'auto' }).backend, 'cpu');
    assert.throws(() => loadNativeAddon({ device: 'cuda' }), (err: unknown) => {
      assert.ok(err instanceof KvserveError);
      assert.equal(err.code, 'ERR_NATIVE_CUDA_UNAVAILABLE');
      assert.match(err.message, /not found[\s\S]*Fix: .*--device cpu/);
      return true;
    });
  });
});

test('the probe runs in a child process and reports load failures without crashing this one', (t) => {
  const cpuAddon = join(process.cwd(), 'build', 'Release', 'kvserve.node');
  if (existsSync(cpuAddon)) {
    assert.match(probeCudaAddon(cpuAddon).failure ?? '', /no cudaProbe export \(not a CUDA build\)/);
  }
  const dir = tmpDir(t);
  const garbage = join(dir, 'broken.node');
  writeFileSync(garbage, 'not an ELF file');
  assert.match(probeCudaAddon(garbage).failure ?? '', /^loading .*broken\.node failed: /);
});

test('without an NVIDIA driver the CUDA backend is not chosen, and doctor says so', (t) => {
  if (nvidiaDriver().present) {
    t.skip('this machine has an NVIDIA driver');
    return;
  }
  const a = cudaAvailability({ refresh: true });
  assert.equal(a.available, false);
  assert.ok(a.reasons.some((r) => /no NVIDIA kernel driver/.test(r)), a.reasons.join('\n'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'doctor'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^cuda: not used:\n {2}- no NVIDIA kernel driver/m);
});

test('the CUDA addon probes in a child: the runtime answers (no device here), and a GPU would be listed', (t) => {
  const path = cudaAddonOrSkip(t);
  if (!path) return;
  const { result, failure } = probeCudaAddon(path);
  assert.equal(failure, undefined);
  assert.ok(result);
  assert.ok(result.runtimeVersion >= 12000, `runtime ${result.runtimeVersion}`);
  if (nvidiaDriver().present) {
    assert.ok(result.deviceCount >= 1, result.error);
  } else {
    assert.equal(result.ok, false);
    assert.equal(result.deviceCount, 0);
    assert.ok(result.error.length > 0);
  }
});

test('the CUDA addon runs a real model with device cpu token for token like the CPU addon', async (t) => {
  const path = cudaAddonOrSkip(t);
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!path || !model) return;
  const cudaAddon = require(path) as NativeAddon;
  const cpuAddon = loadNativeAddon({ device: 'cpu' });
  assert.equal(cudaAddon.backend, 'cuda');
  assert.equal(cpuAddon.backend, 'cpu');
  const spec = await loadModelSpec(model);
  const run = async (addon: NativeAddon): Promise<number[]> => {
    const m = new addon.Model(nativeModelDescription(spec, { numBlocks: 8, blockSize: 16, dtype: 'f32' }, 1, 'portable', 'cpu'));
    const tokens = [1];
    for (let pos = 0; pos < 20; pos++) {
      const r = await m.step({
        tokenIds: Int32Array.of(tokens[pos] as number),
        positions: Int32Array.of(pos),
        slotMapping: Int32Array.of(pos),
        queryStartLoc: Int32Array.of(0, 1),
        seqLens: Int32Array.of(pos + 1),
        blockTables: Int32Array.of(0, 1),
        maxBlocksPerSeq: 2,
        logitsIndices: Int32Array.of(0),
      });
      tokens.push(r.tokenIds[0] as number);
    }
    assert.equal(m.info().device, 'cpu');
    m.close();
    return tokens;
  };
  assert.deepEqual(await run(cudaAddon), await run(cpuAddon));
});

test('the CUDA addon refuses device cuda without a GPU, with the runtime error, and stays usable', async (t) => {
  const path = cudaAddonOrSkip(t);
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!path || !model) return;
  if (nvidiaDriver().present) {
    t.skip('this machine has an NVIDIA driver');
    return;
  }
  const addon = require(path) as NativeAddon;
  const spec = await loadModelSpec(model);
  const desc = nativeModelDescription(spec, { numBlocks: 8, blockSize: 16, dtype: 'f16' }, 1, undefined, 'cuda');
  assert.throws(() => new addon.Model(desc), /Model: CUDA error cuda\w+ \(.+\) from /);
  assert.throws(() => new addon.Model({ ...desc, device: 'gpu' as never }), /device: expected 'cpu' \| 'cuda', got 'gpu'/);
  assert.equal(typeof addon.cudaProbe, 'function');
});

test('the CPU addon refuses device cuda with a clear error', async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  const addon = loadNativeAddon({ device: 'cpu' });
  const spec = await loadModelSpec(model);
  const desc = nativeModelDescription(spec, { numBlocks: 8, blockSize: 16, dtype: 'f32' }, 1, undefined, 'cuda');
  assert.throws(() => new addon.Model(desc), /this is the CPU addon; build the CUDA addon \(npm run build:cuda\)/);
});

test('cudaAddonPath: build-cuda by default, else the binary KVSERVE_NATIVE_PATH names', () => {
  const saved = process.env.KVSERVE_NATIVE_PATH;
  try {
    delete process.env.KVSERVE_NATIVE_PATH;
    withAddonPath(undefined, () => assert.equal(cudaAddonPath(), builtCudaAddon));
    process.env.KVSERVE_NATIVE_PATH = '/opt/custom/kvserve.node';
    withAddonPath(undefined, () => assert.equal(cudaAddonPath(), '/opt/custom/kvserve.node'));
  } finally {
    if (saved === undefined) delete process.env.KVSERVE_NATIVE_PATH;
    else process.env.KVSERVE_NATIVE_PATH = saved;
  }
});

test('npm run build:cuda skips with a clear message where there is no CUDA compiler', () => {
  const r = spawnSync(process.execPath, ['scripts/build-cuda.mjs'], {
    encoding: 'utf8',
    env: { ...process.env, CUDACXX: '/nonexistent/nvcc' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /build:cuda: skipped, no CUDA compiler found .*\n.*The CPU addon is unaffected/);
});
