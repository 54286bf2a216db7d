#!/usr/bin/env node
// Builds the CUDA kernel test programs for the CPU emulator (native/cuda_emu) with g++ and, from the
// command line, runs them. One program per kernel family: test/cuda/<family>_test.cu, whose header
// names the other sources it links in a line
//   // kv-emu-sources: native/ops/x/x_cuda.cu native/ops/x/x_cpu.cc ...
// (.cu files compile as CUDA-through-the-emulator C++; *_cpu.cc files as the portable CPU kernel
// variant, KV_ISA=0, with the CPU addon's flags; the emulator runtime is always linked).
// Variants: plain (-O2), asan (-fsanitize=address -O1 -g), wmma (-DKV_EMU_WMMA: kernels take their
// tensor-core path through the emulated nvcuda::wmma), and gpu: the same programs compiled by nvcc for
// a real GPU (KV_GPU_ARCH, default `native`), to run where one exists. Objects and programs are
// cached in build-cuda-emu/ under a hash of compiler, flags, source and every local header it includes.
//
// Usage: node scripts/cuda-emu-tests.mjs [--variant plain|asan|wmma|gpu] [--schedule forward|reverse|random]
//                                        [--list] [family ...]        (default: build and run every family)
// KV_EMU_JOBS: parallel compiles (default 2); KV_EMU_TIMING=1: print each compile's duration.
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(fileURLToPath(import.meta.url), '..', '..');
export const buildDir = join(root, 'build-cuda-emu');
const CXX = process.env.CXX || 'g++';

const EMU_RUNTIME = ['native/cuda_emu/cuda_emu.cc', 'native/cuda_emu/cuda_emu_block.cc', 'native/cuda_emu/cuda_emu_api.cc'];
const COMMON = ['-std=c++17', '-Inative', '-Itest/cuda', '-pthread', '-fno-extern-tls-init', '-ffp-contract=off', '-Wall', '-Wno-unused-function'];
// The CPU kernels are the references: -O1 builds them fast, and no flag here changes their numerics
// (-ffp-contract=off is common; the portable variant has no intrinsics).
const CPU_FLAGS = ['-O1', '-fno-math-errno', '-DKV_ISA=0', '-Wno-maybe-uninitialized'];
export const VARIANTS = {
  plain: { cu: ['-O2'], cpu: [], link: [] },
  // The CPU kernels (the references) are not instrumented: they are tested on their own, and sharing
  // the plain objects saves a slow rebuild.
  asan: { cu: ['-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer'], cpu: [], link: ['-fsanitize=address'] },
  wmma: { cu: ['-O2', '-DKV_EMU_WMMA'], cpu: [], link: [] },
  gpu: { cu: [], cpu: [], link: [] },  // nvcc: see objectCommand
};
const NVCC = process.env.CUDACXX || 'nvcc';

/** Whether a family's CUDA sources have a tensor-core path (KV_WMMA) worth a wmma build. */
export function hasWmmaPath(family) {
  return familySources(family).some((f) => f.endsWith('.cu') && readFileSync(join(root, f), 'utf8').includes('KV_WMMA'));
}

/**
 * Whether a family is an integration test (a `// kv-emu-integration` line): it runs many kernels
 * that their own families already check barrier by barrier, so it runs under fewer orders.
 */
export function isIntegration(family) {
  return /^\/\/ kv-emu-integration$/m.test(readFileSync(join(root, 'test', 'cuda', `${family}_test.cu`), 'utf8'));
}

/** Families with a test program: test/cuda/<name>_test.cu. */
export function listFamilies() {
  return readdirSync(join(root, 'test', 'cuda'))
    .filter((f) => f.endsWith('_test.cu'))
    .map((f) => f.slice(0, -'_test.cu'.length))
    .sort();
}

/** Sources of a family: its test program and the files its kv-emu-sources line names. */
export function familySources(family) {
  const test = `test/cuda/${family}_test.cu`;
  const text = readFileSync(join(root, test), 'utf8');
  const m = /^\/\/ kv-emu-sources:(.*)$/m.exec(text);
  const extra = m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
  for (const f of extra) if (!existsSync(join(root, f))) throw new Error(`${test}: kv-emu-sources names a missing file ${f}`);
  return [test, ...extra];
}

let compilerId;
function compilerVersion() {
  if (!compilerId) {
    const r = spawnSync(CXX, ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${CXX} not found: the CUDA emulator tests need a C++17 compiler`);
    compilerId = r.stdout.split('\n')[0];
  }
  return compilerId;
}

// Local headers a file includes, transitively (quoted includes resolved against its folder, native/, test/cuda/).
function localIncludes(file, seen = new Set()) {
  const text = readFileSync(join(root, file), 'utf8');
  for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
    const name = m[1];
    for (const base of [dirname(file), 'native', 'test/cuda']) {
      const candidate = relative(root, join(root, base, name));
      if (existsSync(join(root, candidate))) {
        if (!seen.has(candidate)) {
          seen.add(candidate);
          localIncludes(candidate, seen);
        }
        break;
      }
    }
  }
  return seen;
}

function hashOf(parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

function run(cmd, args) {
  const t0 = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    if (process.env.KV_EMU_TIMING) child.on('close', () => console.error(`[${Date.now() - t0} ms] ${args.find((a) => a.endsWith('.cu') || a.endsWith('.cc')) ?? 'link'} ${args.includes('-fsanitize=address') ? '(asan)' : ''}`));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.join(' ')}\n${out}`))));
  });
}

// A small job queue: at most `limit` compiler processes at once.
function limiter(limit) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= limit || queue.length === 0) return;
    active++;
    const { fn, ok, fail } = queue.shift();
    fn().then(ok, fail).finally(() => {
      active--;
      next();
    });
  };
  return (fn) => new Promise((ok, fail) => {
    queue.push({ fn, ok, fail });
    next();
  });
}
const compileSlot = limiter(Math.max(1, Math.min(availableParallelism(), Number(process.env.KV_EMU_JOBS) || 2)));
const pending = new Map();  // object path -> promise, so concurrent builds share work

function objectCommand(file, variant) {
  if (variant === 'gpu' && file.endsWith('.cu')) {
    const arch = process.env.KV_GPU_ARCH || 'native';
    return [NVCC, ['-x', 'cu', '-std=c++17', '-O2', '-fmad=false', `-arch=${arch}`, '-Inative', '-Itest/cuda', '-Xcompiler', '-pthread']];
  }
  return [CXX, objectFlags(file, variant)];
}

function objectFlags(file, variant) {
  const v = VARIANTS[variant];
  if (file.endsWith('_cpu.cc')) return [...COMMON, ...CPU_FLAGS, ...v.cpu];
  if (file.endsWith('.cu')) return ['-x', 'c++', ...COMMON, ...v.cu];
  if (EMU_RUNTIME.includes(file)) return [...COMMON, ...v.cu];
  // Other native sources (models, core): only the portable kernels are linked, so their ISA dispatch
  // is pointed at them (test/cuda/portable_dispatch.h).
  return [...COMMON, ...CPU_FLAGS, ...v.cpu, '-include', 'test/cuda/portable_dispatch.h'];
}

function compileObject(file, variant) {
  const [cmd, flags] = objectCommand(file, variant);
  // A forced include (-include) is a dependency too: its edits must rebuild the object.
  const forced = flags.flatMap((f, i) => (flags[i - 1] === '-include' ? [f, ...localIncludes(f)] : []));
  const deps = [...new Set([file, ...localIncludes(file), ...forced])].sort();
  const key = hashOf([compilerVersion(), cmd, flags.join(' '), ...deps.flatMap((d) => [d, readFileSync(join(root, d), 'utf8')])]);
  const name = file.replace(/[/.]/g, '_');
  const obj = join(buildDir, 'obj', `${name}-${key}.o`);
  if (existsSync(obj)) return Promise.resolve(obj);
  if (!pending.has(obj)) {
    mkdirSync(dirname(obj), { recursive: true });
    const tmp = `${obj}.${process.pid}.tmp`;
    pending.set(obj, compileSlot(() => run(cmd, [...flags, '-c', file, '-o', tmp]).then(() => {
      renameSync(tmp, obj);
      return obj;
    })));
  }
  return pending.get(obj);
}

/** Builds (or finds cached) the test program of a family; returns its path. */
export async function buildFamily(family, variant = 'plain') {
  if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}`);
  const gpu = variant === 'gpu';
  const sources = [...familySources(family), ...(gpu ? [] : EMU_RUNTIME)];
  const objects = await Promise.all(sources.map((s) => compileObject(s, variant)));
  const link = gpu ? [`-arch=${process.env.KV_GPU_ARCH || 'native'}`, '-Xcompiler', '-pthread'] : ['-pthread', ...VARIANTS[variant].link];
  const exe = join(buildDir, `${family}-${variant}-${hashOf([...objects, link.join(' ')])}`);
  if (!existsSync(exe)) {
    const tmp = `${exe}.${process.pid}.tmp`;
    await compileSlot(() => run(gpu ? NVCC : CXX, [...objects, ...link, '-o', tmp]));
    renameSync(tmp, exe);
  }
  return exe;
}

/** Whether a C++ compiler is available (the tests skip with a reason otherwise, outside CI). */
export function haveCompiler() {
  try {
    compilerVersion();
    return true;
  } catch {
    return false;
  }
}

/** Parses a test program's output (see test/cuda/harness.h). */
export function parseOutput(text) {
  const passed = [], failed = [], sites = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('ok ')) passed.push(line.slice(3));
    else if (line.startsWith('not ok ')) failed.push(line.slice(7));
    else if (line.startsWith('sync-site ')) sites.push(line.slice(10));
  }
  return { passed, failed, sites };
}

/** Runs a built program; env adds KV_EMU_* settings. Returns { status, signal, output }. */
export function runProgram(exe, { env = {}, args = [], timeoutMs = 120_000 } = {}) {
  const r = spawnSync(exe, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0', ...env },
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, signal: r.signal, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

async function main() {
  const argv = process.argv.slice(2);
  let variant = 'plain', schedule = 'forward', list = false;
  const families = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--variant') variant = argv[++i];
    else if (argv[i] === '--schedule') schedule = argv[++i];
    else if (argv[i] === '--list') list = true;
    else families.push(argv[i]);
  }
  if (list) {
    console.log(listFamilies().join('\n'));
    return;
  }
  let failures = 0;
  for (const family of families.length ? families : listFamilies()) {
    const t0 = Date.now();
    const exe = await buildFamily(family, variant);
    const t1 = Date.now();
    const r = runProgram(exe, { env: { KV_EMU_SCHEDULE: schedule } });
    const { passed, failed } = parseOutput(r.output);
    const ok = r.status === 0;
    if (!ok) failures++;
    console.log(`${ok ? 'ok' : 'FAIL'} ${family} [${variant}, ${schedule}]: ${passed.length} passed, ${failed.length} failed (build ${t1 - t0} ms, run ${Date.now() - t1} ms)`);
    if (!ok) console.log(r.output);
  }
  process.exit(failures ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
