// What the loader fuzzer runs. Each target names the files it writes (its input's parts, in order; an
// empty part is left out, so "file missing" is explored too), its seeds from ../shared/models, and the
// loader calls it makes. The property checked on every input (see classify): the loaders either
// succeed or throw a KvserveError; a KvserveError that wraps an internal TypeError / RangeError /
// ReferenceError (a check the parser lacks, caught by a catch-all) is a finding, as is any other
// exception, a hang, or a crash of the process.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sharedModelsDir } from '../../../lib/config.js';
import { KvserveError } from '../../../lib/errors.js';
import { readGguf } from '../../../lib/model/gguf/reader.js';
import { ggufToModelSpec } from '../../../lib/model/gguf/to-spec.js';
import { loadHfModelSpec } from '../../../lib/model/hf/to-spec.js';
import { readSafetensors } from '../../../lib/model/safetensors/reader.js';
import { loadTokenizer } from '../../../lib/tokenizer/index.js';
import type { Tokenizer } from '../../../lib/tokenizer/types.js';
import type { Parts } from './mutate.js';

export interface FuzzTarget {
  name: string;
  /** File names the parts are written to, inside the target's directory. */
  files: string[];
  /** The path handed to the loader: one of the files, or the directory itself. */
  entry: 'dir' | number;
  seeds(): Array<{ name: string; parts: Parts }>;
  run(path: string): Promise<void>;
}

const TEXTS = ['Once upon a time, there was a little girl named Lily.', 'Hello  world\n\t123 ünïcödé 🙂 <s></s>', ''];

/** After a successful load, use the tokenizer the way the engine and the server do. */
async function exercise(tokenizer: Tokenizer): Promise<void> {
  for (const text of TEXTS) {
    const ids = await tokenizer.encode(text, { addSpecialTokens: true });
    tokenizer.decode(ids);
    tokenizer.decode(ids, { skipSpecialTokens: true });
  }
  const n = Math.min(tokenizer.vocabSize, 64);
  for (let id = 0; id < n; id++) {
    tokenizer.decodeToken(id);
    tokenizer.isSpecial(id);
  }
  if (tokenizer.chatTemplate !== null) {
    tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }], { addGenerationPrompt: true });
  }
}

function models(relative: string): string {
  return join(sharedModelsDir(), relative);
}

function fileSeeds(paths: string[]): Array<{ name: string; parts: Parts }> {
  const seeds: Array<{ name: string; parts: Parts }> = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const data = readFileSync(path);
    const name = path.slice(sharedModelsDir().length + 1);
    seeds.push({ name, parts: [data] });
    // The first 64 KiB (the header and the start of the data) as a second, faster seed.
    if (data.length > 65536) seeds.push({ name: `${name} (first 64 KiB)`, parts: [data.subarray(0, 65536)] });
  }
  return seeds;
}

function ggufFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.gguf')) out.push(p);
    }
  };
  walk(sharedModelsDir());
  return out;
}

function dirSeed(dir: string, files: string[]): Array<{ name: string; parts: Parts }> {
  if (!existsSync(join(dir, files[0] as string))) return [];
  return [{ name: dir.slice(sharedModelsDir().length + 1), parts: files.map((f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)) : Buffer.alloc(0))) }];
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'gguf',
    files: ['model.gguf'],
    entry: 0,
    seeds: () => fileSeeds(ggufFiles()),
    async run(path) {
      ggufToModelSpec(await readGguf(path));
    },
  },
  {
    name: 'gguf-tokenizer',
    files: ['model.gguf'],
    entry: 0,
    seeds: () => fileSeeds(ggufFiles()),
    async run(path) {
      await exercise(await loadTokenizer(path));
    },
  },
  {
    name: 'safetensors',
    files: ['model.safetensors'],
    entry: 0,
    seeds: () => fileSeeds([models('tinystories-656K/model.safetensors')]),
    async run(path) {
      await readSafetensors(path);
    },
  },
  {
    name: 'hf-model',
    files: ['config.json', 'model.safetensors', 'generation_config.json', 'model.safetensors.index.json'],
    entry: 'dir',
    seeds: () => dirSeed(models('tinystories-656K'), ['config.json', 'model.safetensors', 'generation_config.json', 'model.safetensors.index.json']),
    async run(dir) {
      await loadHfModelSpec(dir);
    },
  },
  {
    name: 'hf-tokenizer',
    files: ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
    entry: 'dir',
    seeds: () => dirSeed(models('tinystories-656K'), ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']),
    async run(dir) {
      await exercise(await loadTokenizer(dir));
    },
  },
];

export function targetByName(name: string): FuzzTarget {
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`unknown fuzz target ${JSON.stringify(name)}; expected one of ${TARGETS.map((t) => t.name).join(', ')}`);
  return target;
}

const INTERNAL_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']);

/** null when the error honours the loaders' contract; otherwise what is wrong with it. */
export function classify(error: unknown): string | null {
  if (!(error instanceof KvserveError)) {
    const name = error instanceof Error ? error.constructor.name : typeof error;
    return `escaped ${name}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && !(cause instanceof KvserveError) && INTERNAL_ERRORS.has(cause.name)) {
    return `internal ${cause.name} behind ${error.code}: ${cause.message}`;
  }
  return null;
}

/** A finding's identity for de-duplication: its kind and message with numbers and quoted text masked. */
export function signature(problem: string): string {
  return problem.replace(/"[^"]*"|'[^']*'/g, '"…"').replace(/\d+/g, 'N').slice(0, 160);
}
