// Speed sanity, not a benchmark (bench/ owns speed claims): 100 KB of text through each GGUF tokenizer
// must round-trip, and the durations are printed as diagnostics. The generous timeout only catches
// accidental quadratic behaviour (one 100 KB SPM fragment is a single 100k-symbol merge problem).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanSpaces } from '../../../lib/tokenizer/clean-spaces.js';
import { GgufTokenizer } from '../../../lib/tokenizer/gguf-tokenizer.js';
import { FIXED_TEXTS } from '../../goldens/tokenizer/text-set.js';
import { MODELS, modelPath } from '../../helpers/models.js';

function makeText(bytes: number): string {
  const paragraph = FIXED_TEXTS.filter((s) => !s.includes('<')).join('\n');
  let text = '';
  while (Buffer.byteLength(text) < bytes) text += `${paragraph}\n`;
  return text;
}

const CASES: [string, string][] = [
  ['llama-spm (32k SPM)', MODELS.vocabLlamaSpm],
  ['gpt-2 (50k BPE)', MODELS.vocabGpt2],
];

for (const [name, rel] of CASES) {
  describe(`speed sanity: ${name}`, () => {
    test('100 KB of mixed text', { timeout: 60_000 }, async (t) => {
      const path = modelPath(t, rel);
      if (path === null) return;
      const tok = await GgufTokenizer.fromFile(path);
      const text = makeText(100_000);
      const start = performance.now();
      const ids = tok.encodeSync(text, { addSpecialTokens: false });
      const encodeMs = performance.now() - start;
      const decodeStart = performance.now();
      const back = tok.decode(ids);
      const decodeMs = performance.now() - decodeStart;
      t.diagnostic(`${Buffer.byteLength(text)} bytes -> ${ids.length} tokens: encode ${encodeMs.toFixed(1)} ms, decode ${decodeMs.toFixed(1)} ms`);
      // GPT-2 decoding applies llama.cpp's clean_spaces (" ," -> ","); SPM strips one leading space.
      assert.equal(back, tok.vocab.cleanSpaces ? cleanSpaces(text) : text.replace(/^ /, ''));
    });

    test('pathological single words (no spaces, byte fallback)', { timeout: 60_000 }, async (t) => {
      const path = modelPath(t, rel);
      if (path === null) return;
      const tok = await GgufTokenizer.fromFile(path);
      for (const text of ['a'.repeat(100_000), '😀'.repeat(10_000), 'ab1'.repeat(30_000)]) {
        const start = performance.now();
        const ids = tok.encodeSync(text, { addSpecialTokens: false });
        const chars = Array.from(text);
        t.diagnostic(`${chars.slice(0, 3).join('')}... (${chars.length} chars): ${ids.length} tokens in ${(performance.now() - start).toFixed(1)} ms`);
        assert.equal(tok.decode(ids), text);
      }
    });
  });
}
