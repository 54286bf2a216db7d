// IncrementalDetokenizer: deltas are valid UTF-8, add up to decode(ids), respect the prompt context,
// and stop strings end the output at the right place whatever the token boundaries.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { IncrementalDetokenizer, loadTokenizer, type Tokenizer } from '../../../lib/tokenizer/index.js';
import { toWellFormed } from '../../../lib/tokenizer/utf8.js';
import { FIXED_TEXTS, randomTexts } from '../../goldens/tokenizer/text-set.js';
import { MODELS, modelPath } from '../../helpers/models.js';

const TOKENIZERS: readonly [string, string][] = [
  ['llama-spm (GGUF)', MODELS.vocabLlamaSpm],
  ['gpt-2 (GGUF)', MODELS.vocabGpt2],
  ['stories260K (GGUF)', MODELS.stories260kGguf],
  ['tinystories-656K (GGUF)', MODELS.tinystoriesQ8Gguf],
  ['tinystories-656K (HF)', MODELS.tinystoriesHfDir],
];

async function load(t: TestContext, rel: string): Promise<Tokenizer | null> {
  const path = modelPath(t, rel);
  return path === null ? null : loadTokenizer(path);
}

/** Feeds ids one at a time; returns every delta, finish() last. */
function stream(tok: Tokenizer, ids: readonly number[], opts = {}): { deltas: string[]; detok: IncrementalDetokenizer } {
  const detok = new IncrementalDetokenizer(tok, opts);
  const deltas = ids.map((id) => detok.push(id));
  deltas.push(detok.finish());
  return { deltas, detok };
}

for (const [name, rel] of TOKENIZERS) {
  describe(`incremental detokenizer: ${name}`, () => {
    test('deltas concatenate to decode(ids) and never split a character', async (t) => {
      const tok = await load(t, rel);
      if (!tok) return;
      for (const text of [...FIXED_TEXTS, ...randomTexts(200, 4242)]) {
        const ids = await tok.encode(text);
        for (const skipSpecialTokens of [true, false]) {
          const { deltas, detok } = stream(tok, ids, { skipSpecialTokens });
          const full = tok.decode(ids, { skipSpecialTokens });
          assert.equal(deltas.join(''), full, JSON.stringify(text));
          assert.equal(detok.text, full);
          for (const d of deltas) {
            assert.equal(toWellFormed(d), d, `delta ${JSON.stringify(d)} is not well-formed`);
            if (!full.includes('\uFFFD')) assert.ok(!d.includes('\uFFFD'), `U+FFFD in a delta of ${JSON.stringify(text)}`);
          }
        }
      }
    });

    test('with the prompt as context, generated text continues it', async (t) => {
      const tok = await load(t, rel);
      if (!tok) return;
      // Split points inside plain ASCII text: decode(prompt + generated) = decode(prompt) + output.
      for (const text of ['Once upon a time there was a little girl', 'She said hello to the cat and they played']) {
        const ids = await tok.encode(text);
        for (let k = 1; k < ids.length; k++) {
          const { deltas } = stream(tok, ids.slice(k), { promptIds: ids.slice(0, k) });
          const whole = tok.decode(ids);
          const prompt = tok.decode(ids.slice(0, k));
          assert.ok(whole.startsWith(prompt));
          assert.equal(deltas.join(''), whole.slice(prompt.length), `split at ${k} of ${JSON.stringify(text)}`);
        }
      }
    });

    test('stop strings spanning token boundaries end the output exactly', async (t) => {
      const tok = await load(t, rel);
      if (!tok) return;
      const text = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
      const ids = await tok.encode(text);
      const full = tok.decode(ids);
      let spanning = 0;
      for (const stop of ['upon a', 'e, th', 'Lily.', 'girl', 'park.', 'd to p', ' ', 'ttle', 'me, t', 'ut']) {
        const at = full.indexOf(stop);
        assert.ok(at >= 0);
        // Is the stop string split across tokens? (the point of the test; most of them are)
        const stream0 = tok.createDecodeStream();
        let seen = '';
        for (const id of ids) {
          const before = seen.length;
          seen += stream0.push(id);
          if (before > at && before < at + stop.length) spanning++;
        }
        for (const include of [false, true]) {
          const { deltas, detok } = stream(tok, ids, { stop: [stop], includeStopStrInOutput: include });
          assert.equal(detok.stopped, true);
          assert.equal(detok.stopString, stop);
          assert.equal(deltas.join(''), full.slice(0, include ? at + stop.length : at), `${stop} include=${include}`);
        }
      }
      assert.ok(spanning >= 3, `only ${spanning} stop strings spanned a token boundary`);
    });

    test('holds back only the tail that could still start a stop string', async (t) => {
      const tok = await load(t, rel);
      if (!tok) return;
      const stops = ['park!', 'the end', 'Lily went'];
      const ids = await tok.encode('Lily loved the park. The end of the day was near the park.');
      const detok = new IncrementalDetokenizer(tok, { stop: stops });
      const plain = tok.createDecodeStream();
      let decoded = '';
      for (const id of ids) {
        detok.push(id);
        decoded += plain.push(id);
        let held = 0;
        for (let k = 1; k <= decoded.length; k++) {
          const tail = decoded.slice(decoded.length - k);
          if (stops.some((s) => s.length > k && s.startsWith(tail))) held = k;
        }
        assert.equal(detok.text, decoded.slice(0, decoded.length - held), `after ${JSON.stringify(decoded)}`);
      }
      assert.equal(detok.stopped, false);
      detok.finish();
      assert.equal(detok.text, decoded + plain.flush());
    });
  });
}

describe('incremental detokenizer: byte-fallback and stopping details (llama-spm)', () => {
  test('an emoji spelled with four byte tokens arrives whole', async (t) => {
    const tok = await load(t, MODELS.vocabLlamaSpm);
    if (!tok) return;
    const ids = await tok.encode('😀', { addSpecialTokens: false });
    assert.deepEqual(ids.slice(1).map((id) => tok.tokenText(id)), ['<0xF0>', '<0x9F>', '<0x98>', '<0x80>']);
    assert.deepEqual(stream(tok, ids).deltas, ['', '', '', '', '😀', '']);
    // Cut short, the incomplete character is flushed as U+FFFD (as decode() does).
    assert.deepEqual(stream(tok, ids.slice(0, 3)).deltas, ['', '', '', '\uFFFD']);
    assert.equal(tok.decode(ids.slice(0, 3)), '\uFFFD');
  });

  test('the earliest completed stop string wins; nothing is emitted after it', async (t) => {
    const tok = await load(t, MODELS.vocabLlamaSpm);
    if (!tok) return;
    // Without BOS: llama.cpp strips the leading space of the first token only (a skipped BOS counts).
    const ids = await tok.encode('abcdef ghij', { addSpecialTokens: false });
    const { deltas, detok } = stream(tok, ids, { stop: ['cdef g', 'bcd', 'ef'] });
    assert.equal(detok.stopString, 'bcd');
    assert.equal(deltas.join(''), 'a');
    assert.equal(detok.push(ids[1] as number), '');
    assert.equal(detok.finish(), '');
  });

  test('a held stop prefix is released by finish() when the stop never completes', async (t) => {
    const tok = await load(t, MODELS.vocabLlamaSpm);
    if (!tok) return;
    const ids = await tok.encode('the end', { addSpecialTokens: false });
    const { deltas, detok } = stream(tok, ids, { stop: ['end of story'] });
    assert.equal(detok.stopped, false);
    assert.equal(deltas.slice(0, -1).join(''), 'the ');
    assert.equal(deltas.at(-1), 'end');
  });

  test('special tokens are not stop-matched when skipped, and are when kept', async (t) => {
    const tok = await load(t, MODELS.vocabLlamaSpm);
    if (!tok) return;
    const ids = [...(await tok.encode('hi')), 2];
    assert.equal(stream(tok, ids, { stop: ['</s>'] }).detok.stopped, false);
    const kept = stream(tok, ids, { stop: ['</s>'], skipSpecialTokens: false });
    assert.equal(kept.detok.stopped, true);
    assert.equal(kept.deltas.join(''), '<s> hi');
  });

  test('rejects empty stop strings', async (t) => {
    const tok = await load(t, MODELS.vocabLlamaSpm);
    if (!tok) return;
    assert.throws(() => new IncrementalDetokenizer(tok, { stop: [''] }), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
