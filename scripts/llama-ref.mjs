// Loads llama.cpp (through node-llama-cpp) for golden generation and benchmarks. It is ~900 MB with
// its GPU variants, so it is never a dependency: it is installed on demand into .llama-ref/.
import { existsSync } from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';

export const NODE_LLAMA_CPP_VERSION = '3.22.1';
const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const prefix = process.env.KVSERVE_LLAMA_REF_DIR ?? join(root, '.llama-ref');

export function ensureNodeLlamaCpp() {
  const entry = join(prefix, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (!existsSync(entry)) {
    mkdirSync(prefix, { recursive: true });
    if (!existsSync(join(prefix, 'package.json'))) {
      writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'llama-ref', private: true }));
    }
    console.error(`installing node-llama-cpp@${NODE_LLAMA_CPP_VERSION} into ${prefix} (one time, ~900 MB)...`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`], {
      cwd: prefix,
      stdio: 'inherit',
    });
  }
  return entry;
}

/** Returns { llama, mod } where llama is a CPU-only Llama instance from node-llama-cpp. */
export async function loadLlamaCpp({ threads } = {}) {
  const entry = ensureNodeLlamaCpp();
  const mod = await import(pathToFileURL(entry).href);
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
  return { llama, mod };
}
