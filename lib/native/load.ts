// Loads the native addon. Candidates, in order; the first that loads wins, and a failure lists every
// attempt, why it failed and what to do (lib/native/load-report.ts):
//   1. KVSERVE_NATIVE_PATH, an explicit .node file. When set it is the only candidate: a user who
//      names a binary must not silently get another one.
//   2. a source build, build/Release/kvserve.node (contributors: `npm run build:native`).
//   3. the prebuilt binary shipped in prebuilds/<platform>-<arch>/, as node-gyp-build picks it
//      (platform, arch and libc tags; N-API, so any Node >= 20).
// A GPU variant goes first in the list (before 2 and 3) with its own candidate; it must live outside
// prebuilds/<platform>-<arch>/, because node-gyp-build ignores tags it does not know and could pick it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { packageRootDir } from '../config.js';
import { describePrebuilds, nativeLoadError } from './load-report.js';
import type { NativeAddon } from './types.js';
import { type DevicePreference, selectCudaAddon } from './cuda-probe.js';

const require = createRequire(import.meta.url);

export type NativeSource = 'env' | 'source-build' | 'prebuild';

export interface NativeCandidate {
  source: NativeSource;
  /** Where this candidate comes from, for reports ("prebuilt binary (node-gyp-build)"). */
  label: string;
  /** The file to load, or why there is none (with optional detail lines). */
  locate(): { path: string } | { missing: string; details?: string[] };
}

export interface NativeAttempt {
  source: NativeSource;
  label: string;
  path: string | null;
  /** Why this candidate was not used. */
  reason: string;
  details?: string[];
}

export interface LoadedNative {
  addon: NativeAddon;
  path: string;
  source: NativeSource;
  label: string;
  /** Candidates tried before the one that loaded. */
  attempts: NativeAttempt[];
}

export interface NativeLoadContext {
  /** Package root: holds build/ (source checkouts) and prebuilds/. */
  root: string;
  env: NodeJS.ProcessEnv;
}

export function nativeCandidates(ctx: NativeLoadContext): NativeCandidate[] {
  const explicit = ctx.env.KVSERVE_NATIVE_PATH;
  if (explicit) return [explicitCandidate(resolve(explicit))];
  return [sourceBuildCandidate(ctx.root), prebuildCandidate(ctx.root)];
}

function explicitCandidate(path: string): NativeCandidate {
  return {
    source: 'env',
    label: 'KVSERVE_NATIVE_PATH',
    locate: () => (existsSync(path) ? { path } : { missing: `${path}: file not found` }),
  };
}

function sourceBuildCandidate(root: string): NativeCandidate {
  const path = join(root, 'build', 'Release', 'kvserve.node');
  return {
    source: 'source-build',
    label: 'source build',
    locate: () => (existsSync(path) ? { path } : { missing: `${path}: not found (no source build)` }),
  };
}

function prebuildCandidate(root: string): NativeCandidate {
  return {
    source: 'prebuild',
    label: 'prebuilt binary (node-gyp-build)',
    locate: () => {
      let nodeGypBuild: { resolve(dir: string): string };
      try {
        nodeGypBuild = require('node-gyp-build') as typeof nodeGypBuild;
      } catch (err) {
        return { missing: `node-gyp-build is not installed (${firstLine(err)}); reinstall kvserve` };
      }
      let path: string;
      try {
        path = nodeGypBuild.resolve(root);
      } catch {
        return { missing: `${join(root, 'prebuilds')}: no binary matches this platform`, details: describePrebuilds(root) };
      }
      // node-gyp-build looks in build/ before prebuilds/; a source build there already failed above.
      if (isInside(join(root, 'build'), path) && existsSync(join(root, 'build', 'Release', 'kvserve.node'))) {
        return {
          missing: `node-gyp-build picks the source build (${relative(root, path)}) before prebuilds/; ` +
            'remove build/ (or rebuild it) to use a prebuilt binary',
          details: describePrebuilds(root),
        };
      }
      return { path };
    },
  };
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

/** Tries the candidates in order; throws ERR_NATIVE_LOAD with the full report when none loads. */
export function loadNative(ctx: NativeLoadContext): LoadedNative {
  const attempts: NativeAttempt[] = [];
  for (const candidate of nativeCandidates(ctx)) {
    const { source, label } = candidate;
    const where = candidate.locate();
    if ('missing' in where) {
      attempts.push({ source, label, path: null, reason: where.missing, ...(where.details ? { details: where.details } : {}) });
      continue;
    }
    let addon: NativeAddon;
    try {
      addon = require(where.path) as NativeAddon;
    } catch (err) {
      attempts.push({ source, label, path: where.path, reason: firstLine(err) });
      continue;
    }
    if (typeof addon?.Model !== 'function' || typeof addon.cpuInfo !== 'object') {
      attempts.push({ source, label, path: where.path, reason: 'loaded, but it is not a kvserve addon (no Model / cpuInfo export)' });
      continue;
    }
    return { addon, path: where.path, source, label, attempts };
  }
  throw nativeLoadError(ctx, attempts);
}

let cached: LoadedNative | null = null;

export interface LoadOptions {
  /** 'auto' (default): the CUDA addon when a usable GPU is found (lib/native/cuda-probe.ts), else CPU. */
  device?: DevicePreference;
}

/** The addon for this process (loaded once): see the candidate order above. */
export function loadNativeAddon(options: LoadOptions = {}): NativeAddon {
  // CUDA first (probed in a child process); null means the CPU addon.
  const cuda = selectCudaAddon(options.device ?? 'auto');
  if (cuda) return cuda;
  return loadedNative().addon;
}

/** The loaded addon with the file it came from and the candidates tried before it (for doctor). */
export function loadedNative(): LoadedNative {
  cached ??= loadNative({ root: packageRootDir(), env: process.env });
  return cached;
}
