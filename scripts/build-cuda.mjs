#!/usr/bin/env node
// `npm run build:cuda`: builds the CUDA addon (CMakeLists.txt, through cmake-js) into
// build-cuda/Release/kvserve_cuda.node. Where there is no CUDA compiler it prints why and exits 0: the
// CPU addon (`npm run build`) is unaffected. Settings:
//   CUDACXX              the nvcc to use (default: nvcc on PATH, then /usr/local/cuda/bin/nvcc)
//   KVSERVE_CUDA_ARCHS   CMAKE_CUDA_ARCHITECTURES (default: sm_80/86/89/90 code + compute_90 PTX;
//                        CI uses 80: sm_80 code + compute_80 PTX, which every sm_80+ GPU runs)
//   KVSERVE_BUILD_JOBS   parallel compile jobs (default 2)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const require = createRequire(import.meta.url);

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

function findNvcc() {
  if (process.env.CUDACXX) return existsSync(process.env.CUDACXX) ? process.env.CUDACXX : null;
  return onPath('nvcc') ?? (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
}

const nvcc = findNvcc();
if (!nvcc) {
  console.log(
    'kvserve build:cuda: skipped, no CUDA compiler found (nvcc not on PATH, not in /usr/local/cuda/bin, CUDACXX unset).\n' +
      '  The CPU addon is unaffected. To build the CUDA addon, install the CUDA toolkit (12 or newer) or set CUDACXX.',
  );
  process.exit(0);
}
if (!onPath('cmake')) {
  console.error(`kvserve build:cuda: nvcc found (${nvcc}) but cmake is missing; install CMake 3.18 or newer.`);
  process.exit(1);
}
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('kvserve build:cuda: cmake-js is not installed; run `npm ci` (it is a devDependency).');
  process.exit(1);
}

const archs = process.env.KVSERVE_CUDA_ARCHS ?? '80-real;86-real;89-real;90';
const jobs = process.env.KVSERVE_BUILD_JOBS ?? '2';
const args = [
  cmakeJs, 'compile',
  '--directory', root,
  '--out', join(root, 'build-cuda'),
  '--parallel', jobs,
  `--CDCMAKE_CUDA_COMPILER=${nvcc}`,
  `--CDKVSERVE_CUDA_ARCHS=${archs}`,
];
console.log(`kvserve build:cuda: ${nvcc}, architectures ${archs}, ${jobs} jobs -> build-cuda/Release/kvserve_cuda.node`);
const started = Date.now();
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`kvserve build:cuda: failed (exit ${r.status ?? r.signal}); see the compiler output above.`);
  process.exit(r.status ?? 1);
}
const out = join(root, 'build-cuda', 'Release', 'kvserve_cuda.node');
if (!existsSync(out)) {
  console.error(`kvserve build:cuda: the build reported success but ${out} is missing.`);
  process.exit(1);
}
console.log(`kvserve build:cuda: built ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
