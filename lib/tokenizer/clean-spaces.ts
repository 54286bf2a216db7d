// llama.cpp's clean_up_tokenization_spaces (llama_vocab::impl::detokenize, clean_spaces = true for
// most byte-level BPE vocabularies): three passes that drop the space before ?!., , around a lone
// apostrophe, and before 's 'm 're 've. Available both whole-string and as a stream.

const NEEDS_CLEANING = / [?!.,']/;

/** The three passes, byte-for-byte as llama.cpp (including its in-place quirks). */
export function cleanSpaces(text: string): string {
  // Every rule needs a space followed by one of ?!.,' (pass 1 never creates such a pair).
  if (!NEEDS_CLEANING.test(text)) return text;
  // Pass 1: " ?", " !", " .", " ," -> drop the space.
  let src = Array.from(text);
  src = pass(src, (t, i, out) => {
    const x = t[i] as string;
    if (t[i - 1] === ' ' && (x === '?' || x === '!' || x === '.' || x === ',')) out.pop();
    out.push(x);
    return i;
  });
  // Pass 2: " ' " -> "'". llama.cpp overwrites the skipped space with NUL in its buffer, which the
  // next iteration then sees as its predecessor; mirrored with `t[i + 1] = '\0'`.
  src = pass(src, (t, i, out) => {
    const x = t[i] as string;
    if (x === "'" && i + 1 < t.length && t[i - 1] === ' ' && t[i + 1] === ' ') {
      out.pop();
      t[i + 1] = '\0';
      out.push(x);
      return i + 1;
    }
    out.push(x);
    return i;
  });
  // Pass 3: " 's", " 'm", " 're", " 've" -> drop the space (" 't", " 'd", " 'll" keep it).
  src = pass(src, (t, i, out) => {
    const x = t[i] as string;
    if (t[i - 1] === ' ' && x === "'" && i + 1 < t.length) {
      const x1 = t[i + 1];
      if (x1 === 's' || x1 === 'm') out.pop();
      else if (x1 !== 't' && x1 !== 'd' && i + 2 < t.length) {
        const x2 = t[i + 2];
        if ((x1 === 'r' && x2 === 'e') || (x1 === 'v' && x2 === 'e')) out.pop();
      }
    }
    out.push(x);
    return i;
  });
  return src.join('');
}

/** Runs one pass: element 0 is copied, then `step` handles i >= 1 and returns the index it consumed up to. */
function pass(t: string[], step: (t: string[], i: number, out: string[]) => number): string[] {
  if (t.length === 0) return t;
  const out: string[] = [t[0] as string];
  for (let i = 1; i < t.length; i++) i = step(t, i, out);
  return out;
}

/**
 * Streaming form of cleanSpaces: push text pieces, get cleaned text. Every rule's window starts at a
 * space and spans at most 4 characters, so text can be cleaned up to any cut whose 3 preceding
 * characters are not spaces; the rest is held until more text (or flush) arrives.
 */
export class SpaceCleaner {
  private pending = '';

  push(text: string): string {
    if (text.length === 0) return '';
    const s = this.pending + text;
    let cut = s.length;
    while (cut > 0 && !isSafeCut(s, cut)) cut--;
    this.pending = s.slice(cut);
    return cut > 0 ? cleanSpaces(s.slice(0, cut)) : '';
  }

  flush(): string {
    const out = cleanSpaces(this.pending);
    this.pending = '';
    return out;
  }

  /** Forgets held-back text (it was context, not output). */
  discardPending(): void {
    this.pending = '';
  }
}

function isSafeCut(s: string, cut: number): boolean {
  const prev = s.charCodeAt(cut - 1);
  if (prev >= 0xd800 && prev <= 0xdbff) return false; // never split a surrogate pair
  for (let i = Math.max(0, cut - 3); i < cut; i++) if (s[i] === ' ') return false;
  return true;
}
