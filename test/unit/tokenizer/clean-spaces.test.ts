// llama.cpp's clean_spaces: whole-string rules (the gpt-2 goldens pin them to llama.cpp) and the
// streaming form, which must agree with the whole-string form for any split of the text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanSpaces, SpaceCleaner } from '../../../lib/tokenizer/clean-spaces.js';

test('drops the space before ?!., and around lone apostrophes and some contractions', () => {
  assert.equal(cleanSpaces('Hello , world . Really ? Yes !'), 'Hello, world. Really? Yes!');
  assert.equal(cleanSpaces(' ,x'), ',x');
  assert.equal(cleanSpaces("a ' b"), "a'b");
  assert.equal(cleanSpaces("it 's I 'm we 're they 've"), "it's I'm we're they've");
  assert.equal(cleanSpaces("don 't he 'd we 'll"), "don 't he 'd we 'll");
  assert.equal(cleanSpaces("end '"), "end '");
  assert.equal(cleanSpaces(''), '');
});

test('streaming equals whole-string cleaning for random texts and random splits', () => {
  let s = 99;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const alphabet = [' ', ' ', "'", 's', 'm', 'r', 'e', 'v', 't', 'd', 'l', '.', ',', '?', '!', 'x', 'é', '😀'];
  for (let trial = 0; trial < 3000; trial++) {
    const text = Array.from({ length: Math.floor(next() * 24) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    const cleaner = new SpaceCleaner();
    let out = '';
    for (let at = 0; at < text.length; ) {
      let end = Math.min(text.length, at + 1 + Math.floor(next() * 4));
      if (/[\uD800-\uDBFF]/.test(text[end - 1] ?? '')) end++;
      const piece = cleaner.push(text.slice(at, end));
      assert.ok(!/[\uD800-\uDBFF]$/.test(piece), 'never ends a piece inside a surrogate pair');
      out += piece;
      at = end;
    }
    out += cleaner.flush();
    assert.equal(out, cleanSpaces(text), JSON.stringify(text));
  }
});
