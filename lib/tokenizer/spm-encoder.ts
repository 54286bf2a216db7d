// SentencePiece-style BPE over a scored vocabulary, as llama.cpp's llm_tokenizer_spm: the text is
// split into characters, then the adjacent pair whose concatenation is the highest-scoring token is
// merged (left-most first on ties) until no pair forms a token. Characters left over that are not
// tokens fall back to <0xXX> byte tokens.
import { invalidArgument } from '../errors.js';
import type { LlamaVocab } from './llama-vocab.js';
import { BigramQueue } from './bigram-queue.js';
const utf8 = new TextEncoder();

export class SpmEncoder {
  /** Token id of each byte's <0xXX> token, or -1. */
  private readonly byteIds = new Int32Array(256).fill(-1);

  constructor(private readonly vocab: LlamaVocab) {
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      // llama.cpp falls back to the byte as a one-character token (only meaningful for ASCII).
      const id = vocab.tokenToId.get(hex) ?? (b < 0x80 ? vocab.tokenToId.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.byteIds[b] = id;
    }
  }

  /**
   * Appends the ids of `text` to `out`. `text` must already have spaces replaced by U+2581 (and the
   * prefix added): this is one raw fragment between special tokens.
   */
  encode(text: string, out: number[]): void {
    const { tokenToId, scores } = this.vocab;
    let numSymbols = 0;
    for (let off = 0; off < text.length; off += (text.codePointAt(off) as number) > 0xffff ? 2 : 1) numSymbols++;
    if (numSymbols === 0) return;
    const start = new Int32Array(numSymbols);
    const len = new Int32Array(numSymbols);
    const next = new Int32Array(numSymbols);
    const prev = new Int32Array(numSymbols);
    for (let i = 0, off = 0; i < numSymbols; i++) {
      const n = (text.codePointAt(off) as number) > 0xffff ? 2 : 1;
      start[i] = off;
      len[i] = n;
      prev[i] = i - 1;
      next[i] = i + 1 < numSymbols ? i + 1 : -1;
      off += n;
    }

    // Queued pairs remember their combined length: a different current length means a side merged since.
    const queue = new BigramQueue();
    const tryAddBigram = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const size = (len[left] as number) + (len[right] as number);
      const s = start[left] as number;
      const id = tokenToId.get(text.slice(s, s + size));
      if (id !== undefined) queue.push(scores ? (scores[id] as number) : 0, left, right, size);
    };
    for (let i = 1; i < numSymbols; i++) tryAddBigram(i - 1, i);

    while (queue.pop()) {
      const left = queue.poppedLeft;
      const right = queue.poppedRight;
      const lenLeft = len[left] as number;
      const lenRight = len[right] as number;
      if (lenLeft === 0 || lenRight === 0 || lenLeft + lenRight !== queue.poppedSize) continue;
      // Merge the right symbol into the left one and unlink it.
      len[left] = lenLeft + lenRight;
      len[right] = 0;
      const after = next[right] as number;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      tryAddBigram(prev[left] as number, left);
      tryAddBigram(left, after);
    }

    let unknownRun = false;
    for (let i = 0; i !== -1; i = next[i] as number) {
      const s = start[i] as number;
      const piece = text.slice(s, s + (len[i] as number));
      const id = tokenToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        unknownRun = false;
        continue;
      }
      const bytes = utf8.encode(piece);
      if (bytes.every((b) => (this.byteIds[b] as number) >= 0)) {
        for (const b of bytes) out.push(this.byteIds[b] as number);
        unknownRun = false;
        continue;
      }
      // No token and no byte tokens for this character: llama.cpp aborts here (std::out_of_range in
      // byte_to_token); we emit <unk>, one per run of such characters as sentencepiece and HF do.
      const unk = this.vocab.unk;
      if (unk === null) throw invalidArgument('text', 'characters the vocabulary can represent', piece);
      if (!unknownRun) out.push(unk);
      unknownRun = true;
    }
  }
}
