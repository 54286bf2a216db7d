// The report of a failed native load (house rule 8): this machine (platform, arch, libc, Node ABI),
// every candidate tried and why it failed, each prebuilt file and why it does not fit, and the
// commands that would fix it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KvserveError } from '../errors.js';
import type { NativeAttempt, NativeLoadContext } from './load.js';
import { describePlatform, runtimePlatform, type RuntimePlatform } from './platform.js';

interface PrebuildTags {
  runtime?: string;
  napi?: boolean;
  abi?: string;
  uv?: string;
  armv?: string;
  libc?: string;
}

/** File-name tags as node-gyp-build reads them (kvserve.glibc.node, node.abi115.node, ...). */
function parseTags(file: string): PrebuildTags {
  const tags: PrebuildTags = {};
  for (const tag of file.split('.').slice(0, -1)) {
    if (tag === 'node' || tag === 'electron' || tag === 'node-webkit') tags.runtime = tag;
    else if (tag === 'napi') tags.napi = true;
    else if (tag.startsWith('abi')) tags.abi = tag.slice(3);
    else if (tag.startsWith('uv')) tags.uv = tag.slice(2);
    else if (tag.startsWith('armv')) tags.armv = tag.slice(4);
    else if (tag === 'glibc' || tag === 'musl') tags.libc = tag;
  }
  return tags;
}

function mismatch(dir: string, file: string, p: RuntimePlatform): string | null {
  const [platform, archs] = dir.split('-');
  if (platform !== p.platform || !(archs ?? '').split('+').includes(p.arch)) return `built for ${dir}; this machine is ${p.platform}-${p.arch}`;
  if (!file.endsWith('.node')) return 'not a .node file';
  const tags = parseTags(file);
  if (tags.libc && p.libc && tags.libc !== p.libc) return `built for ${tags.libc}; this system uses ${p.libc}`;
  if (tags.runtime && tags.runtime !== 'node') return `built for ${tags.runtime}`;
  if (tags.abi && !tags.napi && tags.abi !== p.nodeAbi) return `built for Node ABI ${tags.abi}; this Node has ABI ${p.nodeAbi}`;
  if (tags.uv && tags.uv !== (process.versions.uv ?? '').split('.')[0]) return `built for libuv ${tags.uv}`;
  return null;
}

function listPrebuilds(root: string): Array<{ dir: string; file: string }> {
  const base = join(root, 'prebuilds');
  const out: Array<{ dir: string; file: string }> = [];
  for (const dir of safeReaddir(base)) {
    if (!statSync(join(base, dir)).isDirectory()) continue;
    for (const file of safeReaddir(join(base, dir))) out.push({ dir, file });
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** One line per file under prebuilds/: whether it fits this machine and, if not, why. */
export function describePrebuilds(root: string, p: RuntimePlatform = runtimePlatform()): string[] {
  const files = listPrebuilds(root);
  if (files.length === 0) return [`${join(root, 'prebuilds')}: no prebuilt binaries in this copy of kvserve`];
  return files.map(({ dir, file }) => `prebuilds/${dir}/${file}: ${mismatch(dir, file, p) ?? 'fits this machine'}`);
}

/** "linux-x64 (glibc)" for each prebuilt .node this copy ships, with its libc / ABI tags. */
function shippedTargets(root: string): string[] {
  return listPrebuilds(root)
    .filter(({ file }) => file.endsWith('.node'))
    .map(({ dir, file }) => {
      const tags = parseTags(file);
      const notes = [...(tags.libc ? [tags.libc] : []), ...(tags.abi && !tags.napi ? [`Node ABI ${tags.abi}`] : [])];
      return notes.length ? `${dir} (${notes.join(', ')})` : dir;
    });
}

export function nativeLoadError(ctx: NativeLoadContext, attempts: NativeAttempt[]): KvserveError {
  const p = runtimePlatform();
  const lines = [`no native addon could be loaded for ${describePlatform(p)}.`, 'Tried:'];
  attempts.forEach((a, i) => {
    lines.push(`  ${i + 1}. ${a.label}: ${a.path ? `${a.path}: ` : ''}${a.reason}`);
    for (const d of a.details ?? []) lines.push(`       ${d}`);
  });
  const shipped = shippedTargets(ctx.root);
  lines.push(`Prebuilt binaries in this copy: ${shipped.length ? shipped.join(', ') : 'none'}.`);
  lines.push('To fix:');
  const tooOld = attempts.map((a) => /version `((?:GLIBC|GLIBCXX|CXXABI)_[\d.]+)' not found/.exec(a.reason)?.[1]).find(Boolean);
  if (tooOld) {
    lines.push(`  - this system's C/C++ runtime is older than the binary needs (${tooOld}): use a newer distro, or build from source.`);
  }
  if (ctx.env.KVSERVE_NATIVE_PATH) {
    lines.push(
      `  - KVSERVE_NATIVE_PATH=${ctx.env.KVSERVE_NATIVE_PATH} is set, so no other binary was tried: point it at a kvserve.node`,
      '    built for this machine, or unset it to use the bundled binary.',
    );
  } else if (existsSync(join(ctx.root, 'binding.gyp'))) {
    // A source checkout (contributors).
    lines.push(`  - build the addon here (needs a C++17 compiler, make and python3): cd ${ctx.root} && npm run build:native`);
    lines.push('    (or `npm run build`, which also makes the stripped prebuilt binary and the TypeScript).');
  } else {
    lines.push(
      '  - reinstall kvserve so its prebuilt binary is present: npm install kvserve',
      `    (needs one of the platforms above; this machine is ${p.platform}-${p.arch}${p.libc ? ` ${p.libc}` : ''}).`,
      '  - or build the addon from a source checkout of kvserve (needs a C++17 compiler, make and python3):',
      '      npm ci && npm run build:native',
      '    and point kvserve at it: KVSERVE_NATIVE_PATH=<checkout>/build/Release/kvserve.node',
    );
  }
  lines.push('  - `npx kvserve doctor` prints this report along with the CPU features.');
  return new KvserveError('ERR_NATIVE_LOAD', lines.join('\n'));
}
