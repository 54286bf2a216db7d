// Loads the native addon. With device 'auto' or 'cuda', the CUDA addon when it can run (cuda-probe.ts);
// otherwise the CPU addon. Tries, in order: a prebuilt binary (node-gyp-build layout under prebuilds/),
// then a local source build (build/Release). A failure lists every attempt, why it failed, and the fix.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KvserveError } from '../errors.js';
import { packageRootDir } from '../config.js';
import type { NativeAddon } from './types.js';
import { type DevicePreference, selectCudaAddon } from './cuda-probe.js';

const require = createRequire(import.meta.url);
let cached: NativeAddon | null = null;

export interface LoadOptions {
  /** 'auto' (default): the CUDA addon when a usable GPU is found (lib/native/cuda-probe.ts), else CPU. */
  device?: DevicePreference;
}

export function loadNativeAddon(options: LoadOptions = {}): NativeAddon {
  // CUDA first (probed in a child process); null means the CPU addon below.
  const cuda = selectCudaAddon(options.device ?? 'auto');
  if (cuda) return cuda;
  if (cached) return cached;
  const root = packageRootDir();
  const attempts: string[] = [];
  const candidates = [join(root, 'build', 'Release', 'kvserve.node')];
  for (const path of candidates) {
    if (!existsSync(path)) {
      attempts.push(`${path}: not found`);
      continue;
    }
    try {
      cached = require(path) as NativeAddon;
      return cached;
    } catch (err) {
      attempts.push(`${path}: ${(err as Error).message}`);
    }
  }
  try {
    // node-gyp-build finds prebuilds/<platform>-<arch>/*.node matching this runtime.
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = nodeGypBuild(root);
    return cached;
  } catch (err) {
    attempts.push(`prebuilds (node-gyp-build): ${(err as Error).message.split('\n')[0]}`);
  }
  throw new KvserveError(
    'ERR_NATIVE_LOAD',
    [
      `kvserve: no native addon could be loaded for ${process.platform}-${process.arch} (Node ${process.version}, ABI ${process.versions.modules}).`,
      'Tried:',
      ...attempts.map((a) => `  - ${a}`),
      'Fix: reinstall kvserve so its prebuilt binary is present, or build from source with `npm run build:native` (needs g++ and python3).',
    ].join('\n'),
  );
}
