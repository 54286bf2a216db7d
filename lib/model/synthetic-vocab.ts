// A minimal but valid llama SPM vocabulary for synthetic GGUF models: <unk>, <s>, </s>, the 256
// byte-fallback tokens <0x00>..<0xFF>, then word pieces with descending scores.
import { GgufValueType } from './gguf/constants.js';
import { ggufBool, ggufF32Array, ggufI32Array, ggufString, ggufStringArray, ggufU32, type GgufValue } from './gguf/value.js';

/** SentencePiece token types as llama.cpp stores them in tokenizer.ggml.token_type. */
export const SPM_TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 } as const;
export const SPM_MIN_VOCAB = 3 + 256;

export interface SpmVocab {
  tokens: string[];
  scores: Float32Array;
  tokenTypes: Int32Array;
}

export function buildSpmVocab(vocabSize: number): SpmVocab {
  if (!Number.isInteger(vocabSize) || vocabSize < SPM_MIN_VOCAB) {
    throw new RangeError(`an SPM vocabulary needs at least ${SPM_MIN_VOCAB} tokens (3 special + 256 bytes), got ${vocabSize}`);
  }
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [SPM_TOKEN_TYPE.UNKNOWN, SPM_TOKEN_TYPE.CONTROL, SPM_TOKEN_TYPE.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(SPM_TOKEN_TYPE.BYTE);
  }
  const scores = new Float32Array(vocabSize);
  const pieces = wordPieces();
  while (tokens.length < vocabSize) {
    scores[tokens.length] = -(tokens.length - SPM_MIN_VOCAB);
    tokens.push(pieces.next().value as string);
    types.push(SPM_TOKEN_TYPE.NORMAL);
  }
  return { tokens, scores, tokenTypes: Int32Array.from(types) };
}

/** "▁a", "a", "▁b", "b", ..., "▁aa", "aa", ...: unique pieces, shortest first. */
function* wordPieces(): Generator<string> {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let length = 1; ; length++) {
    const count = letters.length ** length;
    for (let i = 0; i < count; i++) {
      let s = '';
      for (let n = i, k = 0; k < length; k++, n = Math.floor(n / letters.length)) s = letters[n % letters.length]! + s;
      yield `\u2581${s}`;
      yield s;
    }
  }
}

/** tokenizer.ggml.* metadata for the vocabulary (BOS 1, EOS 2, UNK 0, add BOS). */
export function spmVocabMetadata(vocab: SpmVocab): [string, GgufValue][] {
  return [
    ['tokenizer.ggml.model', ggufString('llama')],
    ['tokenizer.ggml.tokens', ggufStringArray(vocab.tokens)],
    ['tokenizer.ggml.scores', ggufF32Array(vocab.scores)],
    ['tokenizer.ggml.token_type', ggufI32Array(vocab.tokenTypes)],
    ['tokenizer.ggml.unknown_token_id', ggufU32(0)],
    ['tokenizer.ggml.bos_token_id', ggufU32(1)],
    ['tokenizer.ggml.eos_token_id', ggufU32(2)],
    ['tokenizer.ggml.add_bos_token', ggufBool(true)],
    ['tokenizer.ggml.add_eos_token', { type: GgufValueType.BOOL, value: false }],
  ];
}

/**
 * The same vocabulary as an HF tokenizer.json, so a synthetic HF directory is a complete model for the
 * engine and the CLI: a byte-fallback BPE with no normalizer and no merges, so lowercase letters are
 * their own pieces and every other character falls back to its UTF-8 bytes (exact round trips).
 * BOS is added by the post-processor and by tokenizer_config.json, as Llama 2's files do.
 */
export function spmTokenizerFiles(vocab: SpmVocab): { tokenizerJson: unknown; tokenizerConfig: unknown } {
  const special = (id: number): Record<string, unknown> => ({
    id, content: vocab.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0), special(1), special(2)],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.tokens.map((token, id) => [token, id])),
      merges: [],
    },
  };
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    clean_up_tokenization_spaces: false,
    legacy: false,
    tokenizer_class: 'LlamaTokenizer',
  };
  return { tokenizerJson, tokenizerConfig };
}
