// Our GGUF tokenizers against llama.cpp: ids and detokenized text recorded by
// scripts/goldens/tokenizer-goldens.mjs (node-llama-cpp) for every vocabulary in GOLDEN_MODELS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GgufTokenizer } from '../../../lib/tokenizer/gguf-tokenizer.js';
import { readGgufTokenizerMetadata } from '../../../lib/tokenizer/gguf-vocab.js';
import { buildLlamaVocab } from '../../../lib/tokenizer/llama-vocab.js';
import { GOLDEN_MODELS, GOLDEN_TEXTS, type GoldenModel } from '../../goldens/tokenizer/text-set.js';
import { modelPath } from '../../helpers/models.js';

const goldenDir = join(fileURLToPath(import.meta.url), '..', '..', '..', 'goldens', 'tokenizer');

interface TextCase {
  text: string;
  error?: string;
  ids: number[];
  idsWithSpecial: number[];
  decodeSkip: string;
  decodeKeep: string;
  decodeWithSpecialSkip: string;
  decodeWithSpecialKeep: string;
}

interface Golden {
  model: string;
  meta: { vocabSize: number; bos: number | null; eos: number | null; eot: number | null; addBos: boolean; addEos: boolean };
  cases: TextCase[];
  decodeCases: { ids: number[]; decodeSkip: string; decodeKeep: string }[];
}

function readGolden(name: string): Golden {
  return JSON.parse(readFileSync(join(goldenDir, `${name}.json`), 'utf8')) as Golden;
}

const loaded = new Map<string, Promise<GgufTokenizer>>();

/** The vocabulary the golden was made from: the shared file with the golden's metadata overrides. */
async function goldenTokenizer(t: TestContext, spec: GoldenModel): Promise<GgufTokenizer | null> {
  const path = modelPath(t, spec.file);
  if (path === null) return null;
  let tok = loaded.get(spec.name);
  if (!tok) {
    tok = readGgufTokenizerMetadata(path).then((meta) => {
      for (const [key, v] of Object.entries(spec.overrides ?? {})) meta.set(key, v.value);
      return new GgufTokenizer(buildLlamaVocab(meta, path));
    });
    loaded.set(spec.name, tok);
  }
  return tok;
}

/** Fails with the first few mismatches, each naming its text. */
function assertNoMismatches(mismatches: string[]): void {
  assert.equal(mismatches.length, 0, `${mismatches.length} mismatches with llama.cpp:\n${mismatches.slice(0, 8).join('\n')}`);
}

for (const spec of GOLDEN_MODELS) {
  describe(`llama.cpp goldens: ${spec.name}`, () => {
    const golden = readGolden(spec.name);

    test('golden covers the current text set', () => {
      assert.deepEqual(
        golden.cases.map((c) => c.text),
        GOLDEN_TEXTS,
        'test/goldens/tokenizer/text-set.ts changed: regenerate with node --import tsx scripts/goldens/tokenizer-goldens.mjs',
      );
    });

    test('special ids and BOS policy', async (t) => {
      const tok = await goldenTokenizer(t, spec);
      if (!tok) return;
      assert.equal(tok.vocabSize, golden.meta.vocabSize);
      assert.equal(tok.bosTokenId, golden.meta.bos);
      assert.equal(tok.vocab.eos, golden.meta.eos);
      assert.equal(tok.vocab.eot, golden.meta.eot);
      assert.equal(tok.addBosToken, golden.meta.addBos);
      assert.equal(tok.vocab.addEos, golden.meta.addEos);
      if (golden.meta.eos !== null) assert.ok(tok.eosTokenIds.includes(golden.meta.eos));
    });

    test('encode gives the same ids as llama.cpp', async (t) => {
      const tok = await goldenTokenizer(t, spec);
      if (!tok) return;
      const mismatches: string[] = [];
      for (const c of golden.cases) {
        if (c.error !== undefined) continue;
        const ids = tok.encodeSync(c.text, { addSpecialTokens: false });
        const withSpecial = tok.encodeSync(c.text);
        if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
          mismatches.push(`${JSON.stringify(c.text)}: got ${JSON.stringify(ids)}, llama.cpp ${JSON.stringify(c.ids)}`);
        } else if (JSON.stringify(withSpecial) !== JSON.stringify(c.idsWithSpecial)) {
          mismatches.push(`${JSON.stringify(c.text)} (add special): got ${JSON.stringify(withSpecial)}, llama.cpp ${JSON.stringify(c.idsWithSpecial)}`);
        }
        assert.deepEqual(await tok.encode(c.text), withSpecial, 'encode() and encodeSync() agree');
      }
      assertNoMismatches(mismatches);
    });

    test('texts llama.cpp aborts on encode with <unk> instead', async (t) => {
      const tok = await goldenTokenizer(t, spec);
      if (!tok) return;
      for (const c of golden.cases.filter((x) => x.error !== undefined)) {
        // llama.cpp throws std::out_of_range for characters with neither a token nor a byte token.
        assert.ok(tok.vocab.unk !== null);
        assert.ok(tok.encodeSync(c.text, { addSpecialTokens: false }).includes(tok.vocab.unk), JSON.stringify(c.text));
      }
    });

    test('decode gives the same text as llama.cpp detokenize', async (t) => {
      const tok = await goldenTokenizer(t, spec);
      if (!tok) return;
      const mismatches: string[] = [];
      const check = (ids: number[], skip: boolean, expected: string): void => {
        const got = tok.decode(ids, { skipSpecialTokens: skip });
        if (got !== expected) {
          mismatches.push(`${JSON.stringify(ids)} skip=${skip}: got ${JSON.stringify(got)}, llama.cpp ${JSON.stringify(expected)}`);
        }
      };
      for (const c of golden.cases) {
        if (c.error !== undefined) continue;
        check(c.ids, true, c.decodeSkip);
        check(c.ids, false, c.decodeKeep);
        check(c.idsWithSpecial, true, c.decodeWithSpecialSkip);
        check(c.idsWithSpecial, false, c.decodeWithSpecialKeep);
      }
      for (const c of golden.decodeCases) {
        check(c.ids, true, c.decodeSkip);
        check(c.ids, false, c.decodeKeep);
      }
      assertNoMismatches(mismatches);
    });

    test('streaming decode reproduces llama.cpp detokenize token by token', async (t) => {
      const tok = await goldenTokenizer(t, spec);
      if (!tok) return;
      const cases = [
        ...golden.cases.filter((c) => c.error === undefined).map((c) => ({ ids: c.idsWithSpecial, expected: c.decodeWithSpecialSkip })),
        ...golden.decodeCases.map((c) => ({ ids: c.ids, expected: c.decodeSkip })),
      ];
      for (const { ids, expected } of cases) {
        const stream = tok.createDecodeStream();
        const deltas = ids.map((id) => stream.push(id));
        deltas.push(stream.flush());
        assert.equal(deltas.join(''), expected, JSON.stringify(ids));
      }
    });
  });
}
