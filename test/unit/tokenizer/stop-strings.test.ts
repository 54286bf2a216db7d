// StopStringMatcher against a brute-force reference, for many random texts cut into random pieces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StopStringMatcher } from '../../../lib/tokenizer/stop-strings.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Reference: scan end positions left to right; the first stop string ending there (longest first) wins. */
function reference(text: string, stops: string[], include: boolean): { out: string; stop: string | null } {
  const byLength = [...stops].sort((a, b) => b.length - a.length);
  for (let end = 1; end <= text.length; end++) {
    const prefix = text.slice(0, end);
    const stop = byLength.find((s) => prefix.endsWith(s));
    if (stop !== undefined) return { out: text.slice(0, include ? end : end - stop.length), stop };
  }
  return { out: text, stop: null };
}

test('stop matching equals the reference however the text is split', () => {
  const next = rng(17);
  const alphabet = ['a', 'b', 'c', ' ', 'ab', '😀', 'é'];
  for (let trial = 0; trial < 2000; trial++) {
    const pick = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    const text = pick(Math.floor(next() * 30));
    const stops = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(1 + Math.floor(next() * 3)));
    const include = next() < 0.5;
    const matcher = new StopStringMatcher(stops, include);
    let out = '';
    let stop: string | null = null;
    for (let at = 0; at < text.length; ) {
      // Random piece lengths that keep surrogate pairs together, like decoder deltas.
      let end = Math.min(text.length, at + 1 + Math.floor(next() * 5));
      if (/[\uD800-\uDBFF]/.test(text[end - 1] ?? '')) end++;
      const scan = matcher.push(text.slice(at, end));
      out += scan.text;
      stop ??= scan.stop;
      at = end;
    }
    out += matcher.flush();
    const expected = reference(text, stops, include);
    assert.deepEqual({ out, stop }, expected, JSON.stringify({ text, stops, include }));
  }
});

test('after a stop, nothing more is released', () => {
  const m = new StopStringMatcher(['END'], false);
  assert.deepEqual(m.push('abc EN'), { text: 'abc ', stop: null });
  assert.deepEqual(m.push('D and more'), { text: '', stop: 'END' });
  assert.deepEqual(m.push('more'), { text: '', stop: null });
  assert.equal(m.flush(), '');
});
