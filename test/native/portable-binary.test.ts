// The prebuilt addon must run on any x86-64 CPU and any glibc distro Node supports well:
// 1. AVX2 / AVX-512 code may only execute after the run-time dispatch picked that kernel variant.
//    Disassembles the objects the addon is linked from and checks
//    - the addon proper (N-API glue, core, models) and the portable kernels hold no AVX instruction;
//    - in the avx2 / avx512 kernel libraries, AVX appears only in functions of their own variant
//      namespace (kv::cpu_avx2 / kv::cpu_avx512). An inline or template function outside it compiled
//      with AVX would be a COMDAT copy the linker may pick for every caller, baseline ones included.
//    Run-time proof on CPUs without AVX (QEMU) is in test/pkg/package.test.ts.
// 2. The shipped binary needs no shared library beyond libc, libm and the GCC runtime, and no symbol
//    version newer than the README promises (glibc 2.33, GLIBCXX_3.4.30 = GCC 12's libstdc++).
//    Both floors come from the build machine's toolchain; CI (Debian 12) is the reference, so CI
//    asserts them and other machines only print them. (Linking libstdc++ statically was tried: on
//    this toolchain it raises the glibc floor to 2.36 through pthread / arc4random / _dl_find_object.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRootDir } from '../../lib/config.js';

const objRoot = join(packageRootDir(), 'build', 'Release', 'obj.target');
// VEX / EVEX instructions all start with 'v' (verr / verw are the only older ones); ymm, zmm and the
// AVX-512 mask registers k0-k7 appear only in AVX code.
const AVX_MNEMONIC = /^v(?!err\b|erw\b)[a-z0-9]+$/;
const AVX_REGISTER = /%[yz]mm\d|%k[0-7]\b/;

interface AvxUse {
  fn: string;
  count: number;
  /** Instructions touching ymm / zmm registers. */
  ymm: number;
  zmm: number;
  example: string;
}

function objectFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) objectFiles(path, out);
    else if (name.endsWith('.o')) out.push(path);
  }
  return out;
}

/** AVX instructions per function (demangled name) in one object file. */
function avxUses(file: string): AvxUse[] {
  const text = execFileSync('objdump', ['-d', '--no-show-raw-insn', '-C', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const uses = new Map<string, AvxUse>();
  let fn = '(no symbol)';
  for (const line of text.split('\n')) {
    const label = /^[0-9a-f]+ <(.*)>:$/.exec(line);
    if (label) {
      fn = label[1] as string;
      continue;
    }
    const insn = /^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$/.exec(line);
    if (!insn) continue;
    if (AVX_MNEMONIC.test(insn[1] as string) || AVX_REGISTER.test(insn[2] as string)) {
      const use = uses.get(fn) ?? { fn, count: 0, ymm: 0, zmm: 0, example: line.trim() };
      use.count++;
      if ((insn[2] as string).includes('%ymm')) use.ymm++;
      if ((insn[2] as string).includes('%zmm')) use.zmm++;
      uses.set(fn, use);
    }
  }
  return [...uses.values()];
}

/** True when `missing` is null; otherwise skips the test (outside CI) or fails it (CI builds everything). */
function available(t: { skip(reason: string): void }, missing: string | null): boolean {
  if (!missing) return true;
  if (process.env.CI === 'true') throw new Error(missing);
  t.skip(missing);
  return false;
}

function haveTools(t: { skip(reason: string): void }): boolean {
  return available(
    t,
    !existsSync(objRoot) ? `no object files at ${objRoot} (run npm run build)` : spawnable('objdump') ? null : 'objdump (binutils) is not on PATH',
  );
}

function spawnable(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function scan(target: string): Array<AvxUse & { file: string }> {
  const dir = join(objRoot, target);
  assert.ok(existsSync(dir), `${dir} is missing`);
  const files = objectFiles(dir);
  assert.ok(files.length > 0, `no objects under ${dir}`);
  return files.flatMap((file) => avxUses(file).map((u) => ({ ...u, file: file.slice(objRoot.length + 1) })));
}

const show = (uses: Array<AvxUse & { file: string }>) =>
  uses.slice(0, 20).map((u) => `  ${u.file}: ${u.fn} (${u.count}x, e.g. ${u.example})`).join('\n');

test('the addon proper (N-API glue, core, models) holds no AVX instruction', (t) => {
  if (!haveTools(t)) return;
  const uses = scan('kvserve');
  assert.equal(uses.length, 0, `AVX outside the dispatched kernels:\n${show(uses)}`);
});

test('the portable kernels hold no AVX instruction', (t) => {
  if (!haveTools(t)) return;
  const uses = scan('kernels_portable');
  assert.equal(uses.length, 0, `AVX in portable kernels:\n${show(uses)}`);
});

for (const [target, ns, register] of [
  ['kernels_avx2', 'kv::cpu_avx2::', 'ymm'],
  ['kernels_avx512', 'kv::cpu_avx512::', 'zmm'],
] as const) {
  test(`${target}: AVX only inside ${ns} functions, never in shared inline or template code`, (t) => {
    if (!haveTools(t)) return;
    const uses = scan(target);
    const outside = uses.filter((u) => !u.fn.includes(ns));
    assert.equal(outside.length, 0, `AVX code the linker could share with baseline callers:\n${show(outside)}`);
    // The scan sees what it should: the variant's kernels do use their own registers.
    const wide = uses.reduce((n, u) => n + u[register], 0);
    assert.ok(wide > 1000, `${target}: only ${wide} instructions on ${register} registers; is the scan broken?`);
  });
}

const prebuildDir = join(packageRootDir(), 'prebuilds', `${process.platform}-${process.arch}`);

const MAX_GLIBC = [2, 33] as const;
const MAX_GLIBCXX = [3, 4, 30] as const;

function newest(symbols: string, prefix: string): number[] {
  const versions = [...symbols.matchAll(new RegExp(`\\(${prefix}_([0-9.]+)\\)`, 'g'))].map((m) => (m[1] as string).split('.').map(Number));
  return versions.reduce((a, b) => (compareVersions(b, a) > 0 ? b : a), [0]);
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

test('the prebuilt binary needs only libc, libm and the GCC runtime, at the versions the README states', (t) => {
  if (process.platform !== 'linux') return t.skip('ELF / glibc check, linux only');
  const file = existsSync(prebuildDir) ? readdirSync(prebuildDir).find((f) => f.endsWith('.node')) : undefined;
  if (!available(t, file ? null : `no prebuilt binary in ${prebuildDir} (npm run prebuild)`)) return;
  if (!available(t, spawnable('objdump') ? null : 'objdump (binutils) is not on PATH')) return;
  const path = join(prebuildDir, file as string);
  const headers = execFileSync('objdump', ['-p', path], { encoding: 'utf8' });
  const needed = [...headers.matchAll(/^\s*NEEDED\s+(\S+)$/gm)].map((m) => m[1] as string).sort();
  const allowed = /^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|ld-linux-x86-64\.so\.2)$/;
  assert.deepEqual(needed.filter((n) => !allowed.test(n)), [], `unexpected shared-library dependencies: ${needed.join(', ')}`);
  const symbols = execFileSync('objdump', ['-T', path], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const glibc = newest(symbols, 'GLIBC');
  const glibcxx = newest(symbols, 'GLIBCXX');
  const summary = `${file} needs glibc >= ${glibc.join('.')} and libstdc++ GLIBCXX_${glibcxx.join('.')}`;
  t.diagnostic(summary);
  if (process.env.CI !== 'true') return;
  assert.ok(compareVersions(glibc, MAX_GLIBC) <= 0, `${summary}: above the documented glibc ${MAX_GLIBC.join('.')}`);
  assert.ok(compareVersions(glibcxx, MAX_GLIBCXX) <= 0, `${summary}: above the documented GLIBCXX_${MAX_GLIBCXX.join('.')}`);
});
