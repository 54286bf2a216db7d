// writeSyntheticHfDir({ tokenizer: true }) writes a tokenizer.json + tokenizer_config.json for the
// synthetic SPM vocabulary, so synthetic HF directories load in the engine like real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticHfDir } from '../../../lib/model/synthetic.js';
import { buildSpmVocab } from '../../../lib/model/synthetic-vocab.js';
import { loadTokenizer } from '../../../lib/tokenizer/index.js';

test('a synthetic HF directory with tokenizer: true has a working byte-fallback tokenizer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvserve-syn-tok-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await writeSyntheticHfDir(dir, { architecture: 'llama', hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, vocabSize: 300, tokenizer: true });
  const tokenizer = await loadTokenizer(dir);
  const vocab = buildSpmVocab(300);
  assert.equal(tokenizer.vocabSize, 300);
  assert.equal(tokenizer.bosTokenId, 1);
  assert.deepEqual(tokenizer.eosTokenIds, [2]);
  for (const text of ['hello world', 'Grüße, 東京! 🙂', '  two  spaces']) {
    const ids = await tokenizer.encode(text, { addSpecialTokens: true });
    assert.equal(ids[0], 1, 'BOS first');
    assert.ok(ids.every((id) => id >= 0 && id < 300));
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), text);
  }
  // No merges: lowercase letters are their own pieces, every other character falls back to bytes.
  const ids = await tokenizer.encode('ab c', { addSpecialTokens: false });
  assert.deepEqual(ids.map((id) => vocab.tokens[id]), ['a', 'b', '<0x20>', 'c']);
});
