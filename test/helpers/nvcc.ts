// Whether a CUDA compiler exists here (where one does, CI builds the CUDA addon and its prebuilt
// variant, so tests that need them fail instead of skipping). Looks where scripts/build-cuda.mjs looks.
import { spawnSync } from 'node:child_process';

export function nvccPresent(): boolean {
  return spawnSync('sh', ['-c', 'command -v nvcc || test -x /usr/local/cuda/bin/nvcc'], { encoding: 'utf8' }).status === 0;
}
