// Pre-tokenization of byte-level BPE vocabularies: the regular expressions llama.cpp applies per
// tokenizer.ggml.pre (llm_tokenizer_bpe), written as JS unicode regexes. `\s` is spelled out as
// llama.cpp's whitespace set (it has U+0085 and lacks U+FEFF, unlike JS's `\s`).
import type { BpePreType } from './llama-vocab.js';

const WS = '\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const S = `[${WS}]`;
const NOT_S = `[^${WS}]`;
const CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${S}+(?!${NOT_S})|${S}+`;
const LLAMA3 =
  `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
  `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`;
const QWEN2 =
  `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
  `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`;

/** Regexes applied in sequence; each one splits every segment the previous ones produced. */
const PRE_REGEXES: Record<BpePreType, readonly string[]> = {
  // llama.cpp's fallback for BPE vocabularies without a known pre-tokenizer.
  default: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  gpt2: [GPT2],
  llama3: [LLAMA3],
  qwen2: [QWEN2],
};

const compiled = new Map<BpePreType, RegExp[]>();

/** Splits text into the words BPE merges run within. Unmatched gaps are kept as words too. */
export function preTokenize(text: string, preType: BpePreType): string[] {
  let regexes = compiled.get(preType);
  if (!regexes) {
    regexes = PRE_REGEXES[preType].map((source) => new RegExp(source, 'gu'));
    compiled.set(preType, regexes);
  }
  let segments = [text];
  for (const re of regexes) {
    const next: string[] = [];
    for (const segment of segments) splitSegment(segment, re, next);
    segments = next;
  }
  return segments;
}

function splitSegment(segment: string, re: RegExp, out: string[]): void {
  re.lastIndex = 0;
  let last = 0;
  for (let m = re.exec(segment); m !== null; m = re.exec(segment)) {
    if (m[0].length === 0) {
      re.lastIndex++; // none of the patterns can match empty; guard anyway
      continue;
    }
    if (m.index > last) out.push(segment.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < segment.length) out.push(segment.slice(last));
}
