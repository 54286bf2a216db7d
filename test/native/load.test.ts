// The native loader: candidate order, and the report when no binary fits (platform, libc, ABI, every
// file tried and why, the fix). Fake package roots hold real files (junk bytes, a foreign addon), so
// every failure here is a real dlopen or a real node-gyp-build decision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { KvserveError } from '../../lib/errors.js';
import { loadNative, loadedNative } from '../../lib/native/load.js';
import { runtimePlatform } from '../../lib/native/platform.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const p = runtimePlatform();
const tuple = `${p.platform}-${p.arch}`;
const linuxX64Glibc = tuple === 'linux-x64' && p.libc === 'glibc';

function loadError(root: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadNative({ root, env });
  } catch (err) {
    assert.ok(err instanceof KvserveError, String(err));
    assert.equal(err.code, 'ERR_NATIVE_LOAD');
    return err.message;
  }
  assert.fail('loadNative succeeded');
}

function put(root: string, rel: string, bytes: string | Buffer = 'not an ELF file'): string {
  const path = join(root, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

test('an installed copy without binaries: the report names the machine, each attempt and the fixes', (t) => {
  const root = tmpDir(t);
  const message = loadError(root);
  assert.match(message, new RegExp(`no native addon could be loaded for ${tuple}`));
  assert.ok(message.includes(`ABI ${process.versions.modules}`), message);
  assert.ok(message.includes(`N-API ${process.versions.napi}`), message);
  if (p.libc) assert.ok(message.includes(p.libc), message);
  assert.ok(message.includes(`1. source build: ${join(root, 'build', 'Release', 'kvserve.node')}: not found`), message);
  assert.ok(message.includes('2. prebuilt binary (node-gyp-build)'), message);
  assert.ok(message.includes('no prebuilt binaries in this copy of kvserve'), message);
  assert.ok(message.includes('Prebuilt binaries in this copy: none.'), message);
  // Not a source checkout: reinstall, or build elsewhere and point KVSERVE_NATIVE_PATH at it.
  assert.ok(message.includes('npm install kvserve'), message);
  assert.ok(message.includes('npm ci && npm run build:native'), message);
  assert.ok(message.includes('KVSERVE_NATIVE_PATH=<checkout>/build/Release/kvserve.node'), message);
});

test('prebuilt files for other platforms or libcs are each listed with the reason they do not fit', (t) => {
  if (!linuxX64Glibc) return t.skip(`the expectations are written for linux-x64 glibc; this is ${tuple} ${p.libc}`);
  const root = tmpDir(t);
  put(root, 'prebuilds/linux-x64/kvserve.musl.node');
  put(root, 'prebuilds/linux-arm64/kvserve.glibc.node');
  put(root, 'prebuilds/darwin-x64/kvserve.node');
  put(root, 'prebuilds/linux-x64/kvserve.abi999.node');
  const message = loadError(root);
  assert.ok(message.includes('prebuilds/linux-x64/kvserve.musl.node: built for musl; this system uses glibc'), message);
  assert.ok(message.includes('prebuilds/linux-arm64/kvserve.glibc.node: built for linux-arm64; this machine is linux-x64'), message);
  assert.ok(message.includes('prebuilds/darwin-x64/kvserve.node: built for darwin-x64; this machine is linux-x64'), message);
  assert.ok(message.includes(`prebuilds/linux-x64/kvserve.abi999.node: built for Node ABI 999; this Node has ABI ${p.nodeAbi}`), message);
  assert.ok(message.includes('Prebuilt binaries in this copy: darwin-x64, linux-arm64 (glibc), linux-x64 (Node ABI 999), linux-x64 (musl).'), message);
});

test('a prebuilt binary that node-gyp-build picks but cannot be opened is reported with the dlopen error', (t) => {
  const root = tmpDir(t);
  const file = put(root, `prebuilds/${tuple}/kvserve${p.libc ? `.${p.libc}` : ''}.node`);
  const message = loadError(root);
  assert.ok(message.includes(`2. prebuilt binary (node-gyp-build): ${file}: `), message);
  assert.match(message, /invalid ELF header|file too short|not a valid|slice is not valid mach-o/);
});

test('a broken source build is reported, and the prebuilt fallback says why node-gyp-build did not use prebuilds/', (t) => {
  const root = tmpDir(t);
  const build = put(root, 'build/Release/kvserve.node');
  put(root, 'binding.gyp', '{}');
  put(root, `prebuilds/${tuple}/kvserve${p.libc ? `.${p.libc}` : ''}.node`);
  const message = loadError(root);
  assert.ok(message.includes(`1. source build: ${build}: `), message);
  assert.ok(message.includes('node-gyp-build picks the source build (build/Release/kvserve.node) before prebuilds/'), message);
  // A source checkout (binding.gyp): the fix is to build here.
  assert.ok(message.includes(`cd ${root} && npm run build:native`), message);
});

test('KVSERVE_NATIVE_PATH is the only candidate when set, and a missing file says so', (t) => {
  const root = tmpDir(t);
  put(root, `prebuilds/${tuple}/kvserve${p.libc ? `.${p.libc}` : ''}.node`);
  const missing = join(root, 'nope.node');
  const message = loadError(root, { KVSERVE_NATIVE_PATH: missing });
  assert.ok(message.includes(`1. KVSERVE_NATIVE_PATH: ${missing}: file not found`), message);
  assert.ok(!message.includes('2. '), `other candidates must not be tried:\n${message}`);
  assert.ok(message.includes('is set, so no other binary was tried'), message);
});

test('KVSERVE_NATIVE_PATH pointing at a different N-API addon is refused as not kvserve', (t) => {
  // The tokenizers package ships real N-API binaries: a genuine foreign addon.
  const require = createRequire(import.meta.url);
  const dir = join(require.resolve('tokenizers'), '..');
  const name = { 'linux-x64': `tokenizers.linux-x64-${p.libc === 'musl' ? 'musl' : 'gnu'}.node` }[tuple];
  if (!name) return t.skip(`no tokenizers binary name known for ${tuple}`);
  const message = loadError(tmpDir(t), { KVSERVE_NATIVE_PATH: join(dir, name) });
  assert.ok(message.includes('loaded, but it is not a kvserve addon'), message);
});

test('the addon of this checkout loads, and loads again through KVSERVE_NATIVE_PATH', (t) => {
  const native = loadedNative();
  assert.ok(['source-build', 'prebuild'].includes(native.source), native.source);
  assert.equal(native.addon.backend, 'cpu');
  const again = loadNative({ root: tmpDir(t), env: { KVSERVE_NATIVE_PATH: native.path } });
  assert.equal(again.source, 'env');
  assert.equal(again.addon, native.addon, 'the same file yields the same module');
});

test('a binary that needs a newer glibc than this system is reported with that version and the fix', (t) => {
  if (process.platform !== 'linux' || p.libc !== 'glibc') return t.skip('glibc symbol versions, linux glibc only');
  // A copy of the real addon whose glibc version requirement names a future release: the dynamic
  // linker refuses it exactly as an old distro refuses a binary built on a newer one.
  const bytes = readFileSync(loadedNative().path);
  const text = bytes.toString('latin1');
  const match = /GLIBC_2\.\d+\0/.exec(text);
  assert.ok(match, 'no GLIBC_2.x version string in the addon');
  const future = `GLIBC_9.${'9'.repeat(match[0].length - 'GLIBC_9.'.length - 1)}`;
  bytes.write(`${future}\0`, match.index, 'latin1');
  const path = put(tmpDir(t), 'kvserve.node', bytes);
  const message = loadError(tmpDir(t), { KVSERVE_NATIVE_PATH: path });
  assert.ok(message.includes(`version \`${future}' not found`), message);
  assert.ok(message.includes(`this system's C/C++ runtime is older than the binary needs (${future})`), message);
});
