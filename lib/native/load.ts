// Loads the native addon. Tries, in order: a prebuilt binary (node-gyp-build layout under prebuilds/),
// then a local source build (build/Release). A failure lists every attempt, why it failed, and the fix.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KvserveError } from '../errors.js';
import { packageRootDir } from '../config.js';
import type { NativeAddon } from './types.js';

const require = createRequire(import.meta.url);
let cached: NativeAddon | null = null;

export function loadNativeAddon(): NativeAddon {
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
