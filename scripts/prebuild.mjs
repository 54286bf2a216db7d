#!/usr/bin/env node
// `npm run prebuild`: compiles the CPU addon once with prebuildify and stores the stripped binary where
// node-gyp-build finds it: prebuilds/<platform>-<arch>/kvserve[.glibc|.musl].node. It is an N-API
// build (NAPI_VERSION 8 in binding.gyp), so one binary serves Node 20, 22 and 24.
// npm also runs this before `npm run build` (the pre-script rule), so a build compiles the addon once.
// prebuildify runs `node-gyp rebuild`, then moves build/Release/kvserve.node into prebuilds/; the
// unstripped link output stays at build/Release/obj.target/kvserve.node.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const require = createRequire(import.meta.url);

let bin;
try {
  bin = require.resolve('prebuildify/bin.js');
} catch {
  console.error('prebuild: prebuildify is not installed; run `npm ci` (it is a devDependency)');
  process.exit(1);
}

const args = [
  bin,
  '--napi',
  '--strip',
  // Build against this Node's headers (the same ones `node-gyp rebuild` uses); without a target
  // prebuildify picks the newest Node release and would download its headers.
  `--target=${process.versions.node}`,
];
// libc tag only where it means something: node-gyp-build then refuses a glibc binary on musl.
if (process.platform === 'linux') args.push('--tag-libc');

const started = Date.now();
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  // node-gyp reads JOBS for make's -j (same parallelism as `npm run build:native`).
  env: { ...process.env, JOBS: process.env.JOBS ?? '2' },
});
if (result.status !== 0) {
  console.error(`prebuild: prebuildify failed (exit ${result.status ?? result.signal})`);
  process.exit(result.status ?? 1);
}
console.log(`prebuild: done in ${((Date.now() - started) / 1000).toFixed(0)} s -> prebuilds/${process.platform}-${process.arch}/`);
