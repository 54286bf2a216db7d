#!/usr/bin/env node
// Generates the tokenizer goldens from llama.cpp (node-llama-cpp, installed on demand by
// scripts/llama-ref.mjs): for every vocabulary in GOLDEN_MODELS and every text in GOLDEN_TEXTS, the
// ids (parse_special = true, with and without the model's BOS/EOS) and llama.cpp's detokenized text;
// plus random id sequences and their detokenization. Writes test/goldens/tokenizer/<name>.json.
//
// Usage: node --import tsx scripts/goldens/tokenizer-goldens.mjs [model-name ...]
//
// llama.cpp aborts the process on some inputs (a character with neither a token nor a byte token),
// so each vocabulary runs in a child process that is restarted after the failing text; the golden
// records the failure instead of ids. TinyStories-656K (no byte tokens) aborts on most texts, which
// makes a full run take ~10 minutes; pass model names to regenerate only some goldens.
// The text set lives in test/goldens/tokenizer/text-set.ts (tests check the goldens match it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLlamaCpp, NODE_LLAMA_CPP_VERSION } from '../llama-ref.mjs';
import { GOLDEN_MODELS, GOLDEN_TEXTS, RANDOM_DECODE, randomIdSequences } from '../../test/goldens/tokenizer/text-set.ts';
import { patchGguf } from '../../test/helpers/gguf-writer.ts';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const modelsDir = resolve(process.env.KVSERVE_MODELS_DIR ?? join(root, '..', 'shared', 'models'));
const outDir = join(root, 'test', 'goldens', 'tokenizer');
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  await runChild(process.argv[3], Number(process.argv[4]));
} else {
  await runParent(process.argv.slice(2));
}

/** Child: loads one vocabulary and prints one JSON line per text from `start`, then the decode cases. */
async function runChild(modelPath, start) {
  const { llama } = await loadLlamaCpp();
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  const t = model.tokens;
  const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  const specials = (ids) => [
    ...(t.shouldPrependBosToken && t.bos != null ? [t.bos] : []),
    ...ids,
    ...(t.shouldAppendEosToken && t.eos != null ? [t.eos] : []),
  ];
  const detok = (ids, special) => (ids.length === 0 ? '' : model.detokenize(ids, special));
  if (start === 0) {
    const vocabSize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    out({ meta: { vocabSize, bos: t.bos ?? null, eos: t.eos ?? null, eot: t.eot ?? null, addBos: t.shouldPrependBosToken, addEos: t.shouldAppendEosToken } });
  }
  for (let i = start; i < GOLDEN_TEXTS.length; i++) {
    out({ i, started: true }); // lets the parent name the text that crashed
    const ids = Array.from(model.tokenize(GOLDEN_TEXTS[i], true));
    const withSpecial = specials(ids);
    out({
      i,
      ids,
      idsWithSpecial: withSpecial,
      decodeSkip: detok(ids, false),
      decodeKeep: detok(ids, true),
      decodeWithSpecialSkip: detok(withSpecial, false),
      decodeWithSpecialKeep: detok(withSpecial, true),
    });
  }
  const vocabSize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  const specialIds = [...new Set([0, t.bos, t.eos, t.eot].filter((x) => x != null))];
  out({ decoding: true });
  randomIdSequences(vocabSize, specialIds, RANDOM_DECODE.seed).forEach((ids, r) => {
    out({ r, ids, decodeSkip: detok(ids, false), decodeKeep: detok(ids, true) });
  });
  out({ done: true });
}

async function runParent(only) {
  const { llama } = await loadLlamaCpp();
  const generator = `node-llama-cpp ${NODE_LLAMA_CPP_VERSION}, llama.cpp ${llama.llamaCppRelease?.release ?? 'unknown'}`;
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'kvserve-tok-goldens-'));
  for (const spec of GOLDEN_MODELS) {
    if (only.length > 0 && !only.includes(spec.name)) continue;
    let modelPath = join(modelsDir, spec.file);
    if (spec.overrides) {
      modelPath = join(tmp, `${spec.name}.gguf`);
      writeFileSync(modelPath, patchGguf(readFileSync(join(modelsDir, spec.file)), new Map(Object.entries(spec.overrides))));
    }
    const cases = new Array(GOLDEN_TEXTS.length);
    const decodeCases = [];
    let meta = null;
    let start = 0;
    let numCrashes = 0;
    for (;;) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', modelPath, String(start)], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 256 << 20,
      });
      let lastStarted = -1;
      let done = false;
      for (const line of child.stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const msg = JSON.parse(line);
        if (msg.meta) meta = msg.meta;
        else if (msg.started) lastStarted = msg.i;
        else if (msg.done) done = true;
        else if (msg.decoding) lastStarted = -2;
        else if (msg.r !== undefined) decodeCases.push({ ids: msg.ids, decodeSkip: msg.decodeSkip, decodeKeep: msg.decodeKeep });
        else {
          const { i, ...rest } = msg;
          cases[i] = { text: GOLDEN_TEXTS[i], ...rest };
        }
      }
      if (done) break;
      if (lastStarted < 0) throw new Error(`${spec.name}: llama.cpp child failed outside a text case:\n${child.stderr}`);
      const reason = child.stderr.split('\n').filter((l) => /terminate|what\(\)|error/i.test(l)).join(' | ').slice(0, 300);
      cases[lastStarted] = { text: GOLDEN_TEXTS[lastStarted], error: `llama.cpp aborted: ${reason || `exit ${child.status} ${child.signal ?? ''}`}` };
      numCrashes++;
      start = lastStarted + 1;
    }
    const golden = { model: spec.file, overrides: spec.overrides ?? null, generator, meta, cases, decodeCases };
    writeFileSync(join(outDir, `${spec.name}.json`), formatGolden(golden));
    console.log(`${spec.name}: ${cases.length} texts (${numCrashes} aborted in llama.cpp), ${decodeCases.length} decode cases`);
  }
}

/** One case per line: readable diffs without one line per id. */
function formatGolden(golden) {
  const lines = Object.entries(golden).map(([key, value]) =>
    Array.isArray(value)
      ? `${JSON.stringify(key)}: [\n${value.map((v) => `  ${JSON.stringify(v)}`).join(',\n')}\n]`
      : `${JSON.stringify(key)}: ${JSON.stringify(value)}`,
  );
  return `{\n${lines.join(',\n')}\n}\n`;
}
