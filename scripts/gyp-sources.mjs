#!/usr/bin/env node
// Lists native sources for binding.gyp, so adding an op folder needs no build-file edit.
//   kernels: native/ops/*/*_cpu.cc (compiled once per ISA variant)
//   addon:   native/{addon,core,models,backends/cpu}/**/*.cc
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');

function walk(dir, out = []) {
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const kind = process.argv[2];
let files;
if (kind === 'kernels') {
  files = walk(join(root, 'native', 'ops')).filter((f) => f.endsWith('_cpu.cc'));
} else if (kind === 'addon') {
  files = ['addon', 'core', 'models', join('backends', 'cpu')]
    .flatMap((d) => walk(join(root, 'native', d)))
    .filter((f) => f.endsWith('.cc'));
} else {
  console.error('usage: gyp-sources.mjs kernels|addon');
  process.exit(2);
}
console.log(files.map((f) => relative(root, f).split('\\').join('/')).join(' '));
