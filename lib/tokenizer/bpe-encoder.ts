// Byte-level BPE (GPT-2 style), as llama.cpp's llm_tokenizer_bpe_session: each pre-tokenized word is
// mapped byte -> printable character, then the adjacent pair with the lowest merge rank is merged
// (left-most first on ties) until no ranked pair remains.
import { byteEncode } from './byte-unicode.js';
import type { LlamaVocab } from './llama-vocab.js';
import { preTokenize } from './bpe-pretokenizer.js';
import { BigramQueue } from './bigram-queue.js';
const WORD_CACHE_LIMIT = 50_000;

export class BpeEncoder {
  // Words repeat a lot in natural text; caching their ids is a pure speed-up.
  private readonly cache = new Map<string, readonly number[]>();

  constructor(private readonly vocab: LlamaVocab) {}

  /** Appends the ids of one raw text fragment (between special tokens) to `out`. */
  encode(text: string, out: number[]): void {
    for (const word of preTokenize(text, this.vocab.preType)) {
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(byteEncode(word));
        if (this.cache.size >= WORD_CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  private encodeWord(word: string): number[] {
    const { tokenToId, mergeRanks, ignoreMerges } = this.vocab;
    if (ignoreMerges) {
      const whole = tokenToId.get(word);
      if (whole !== undefined) return [whole];
    }
    const numTokens = this.vocab.tokens.length;
    const { byIds, byText } = mergeRanks;
    // Symbols are code points of the byte-encoded word (every one is a single UTF-16 unit); each
    // carries its token id, or -1 when its text is not a token.
    const n = word.length;
    const len = new Int32Array(n).fill(1);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const symId = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
      symId[i] = tokenToId.get(word[i] as string) ?? -1;
    }
    // Lowest rank first: queued with priority -rank.
    const queue = new BigramQueue();
    const tryAddBigram = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const lenLeft = len[left] as number;
      const size = lenLeft + (len[right] as number);
      const idLeft = symId[left] as number;
      const idRight = symId[right] as number;
      const rank =
        idLeft >= 0 && idRight >= 0
          ? byIds.get(idLeft * numTokens + idRight)
          : byText.size > 0
            ? byText.get(`${word.slice(left, left + lenLeft)}\0${word.slice(right, left + size)}`)
            : undefined;
      if (rank !== undefined) queue.push(-rank, left, right, size);
    };
    for (let i = 1; i < n; i++) tryAddBigram(i - 1, i);

    while (queue.pop()) {
      const left = queue.poppedLeft;
      const right = queue.poppedRight;
      const lenLeft = len[left] as number;
      const lenRight = len[right] as number;
      if (lenLeft === 0 || lenRight === 0 || lenLeft + lenRight !== queue.poppedSize) continue; // stale
      len[left] = lenLeft + lenRight;
      len[right] = 0;
      symId[left] = tokenToId.get(word.slice(left, left + lenLeft + lenRight)) ?? -1;
      const after = next[right] as number;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      tryAddBigram(prev[left] as number, left);
      tryAddBigram(left, after);
    }

    const ids: number[] = [];
    for (let i = 0; i !== -1 && n > 0; i = next[i] as number) {
      const piece = word.slice(i, i + (len[i] as number));
      const id = tokenToId.get(piece);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // llama.cpp looks up each UTF-8 byte of the symbol as a one-byte token and drops misses;
      // only ASCII bytes can hit, since the vocabulary holds valid UTF-8 strings.
      for (const b of Buffer.from(piece, 'utf8')) {
        const byteId = b < 0x80 ? tokenToId.get(String.fromCharCode(b)) : undefined;
        if (byteId !== undefined) ids.push(byteId);
      }
    }
    return ids;
  }
}
