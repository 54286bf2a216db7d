// The vocabulary of a GGUF model (tokenizer.ggml.*), interpreted the way llama.cpp's llama_vocab::load
// does: default special ids per tokenizer model, add_bos / add_space_prefix / clean_spaces defaults,
// token attributes from token_type, end-of-generation detection by token text, the special-token
// list used to split input text, and each token's output bytes (token_to_piece).
import { KvserveError } from '../errors.js';
import { UNICODE_TO_BYTE } from './byte-unicode.js';

/** Token attribute bits (llama.h llama_token_attr). */
export const TokenAttr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
} as const;

// GGUF tokenizer.ggml.token_type values, indexed: 0 undefined, 1 normal, 2 unknown, 3 control,
// 4 user defined, 5 unused, 6 byte.
const TYPE_TO_ATTR = [
  TokenAttr.UNDEFINED,
  TokenAttr.NORMAL,
  TokenAttr.UNKNOWN,
  TokenAttr.CONTROL,
  TokenAttr.USER_DEFINED,
  TokenAttr.UNUSED,
  TokenAttr.BYTE,
];

/** Tokens that end generation, recognised by text (llama.cpp keeps the same list; see its issue #9606). */
const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>',
  '<end_of_turn>', '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]',
  '<|end_of_text|>', '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>',
  '<｜end▁of▁sentence｜>', '[e~[',
]);
const EOT_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>',
  '<EOT>', '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>',
];
const FIM_PAD_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'];
const FIM_REP_TEXTS = ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'];
const FIM_SEP_TEXTS = ['<|file_sep|>'];

// tokenizer.ggml.pre values per pre-tokenizer family (llama-vocab.cpp). Only these are supported.
const PRE_GPT2 = ['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum', 'modern-bert'];
const PRE_LLAMA3 = ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'];
const PRE_QWEN2 = ['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2'];

/** Pre-tokenizer family of a byte-level BPE vocabulary. */
export type BpePreType = 'default' | 'gpt2' | 'llama3' | 'qwen2';

/**
 * BPE merge ranks. Pairs of two tokens are keyed by `leftId * numTokens + rightId`, so the merge loop
 * looks up numbers instead of building pair strings; the rare merges with a side that is not a token
 * are keyed by `left + '\0' + right`. Equivalent to llama.cpp's map keyed by the string pair.
 */
export interface MergeRanks {
  readonly byIds: ReadonlyMap<number, number>;
  readonly byText: ReadonlyMap<string, number>;
}

export interface LlamaVocab {
  /** tokenizer.ggml.model: 'llama' = SentencePiece, 'gpt2' = byte-level BPE. */
  readonly model: 'llama' | 'gpt2';
  readonly preType: BpePreType;
  readonly tokens: readonly string[];
  /** SPM merge scores (null for BPE vocabularies without scores). */
  readonly scores: Float32Array | null;
  readonly attrs: Uint16Array;
  readonly tokenToId: ReadonlyMap<string, number>;
  /** tokenizer.ggml.merges as stored ("left right"), for BPE vocabularies. */
  readonly merges: readonly string[];
  /** BPE merge ranks, see MergeRanks. */
  readonly mergeRanks: MergeRanks;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly eot: number | null;
  readonly unk: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly cleanSpaces: boolean;
  readonly ignoreMerges: boolean;
  /** End-of-generation ids: eos, eot, eom and tokens recognised by text. */
  readonly eog: ReadonlySet<number>;
  /** Control, user-defined and unknown tokens, longest text first: the order input text is split in. */
  readonly specialTokenIds: readonly number[];
  /**
   * Output bytes of every token with special tokens rendered (llama.cpp token_to_piece(special =
   * true)), packed: token i is pieceData[pieceOffsets[i] .. pieceOffsets[i + 1]).
   */
  readonly pieceData: Uint8Array;
  readonly pieceOffsets: Uint32Array;
  readonly chatTemplate: string | null;
}

function loadError(source: string, message: string): KvserveError {
  return new KvserveError('ERR_TOKENIZER_LOAD', `${source}: ${message}`);
}

/** Builds the vocabulary from GGUF metadata (as returned by readGgufTokenizerMetadata). */
export function buildLlamaVocab(meta: ReadonlyMap<string, unknown>, source: string): LlamaVocab {
  const str = (key: string): string | undefined => {
    const v = meta.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw loadError(source, `${key} must be a string`);
    return v;
  };
  const bool = (key: string): boolean | undefined => {
    const v = meta.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw loadError(source, `${key} must be a bool`);
    return v;
  };
  const uint = (key: string): number | undefined => {
    const v = meta.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v)) throw loadError(source, `${key} must be an integer`);
    return v;
  };

  const model = str('tokenizer.ggml.model');
  if (model === undefined) throw loadError(source, 'no tokenizer.ggml.model key (not a model with a vocabulary)');
  if (model !== 'llama' && model !== 'gpt2') {
    throw loadError(source, `tokenizer.ggml.model "${model}" is not supported (supported: llama, gpt2)`);
  }

  const rawTokens = meta.get('tokenizer.ggml.tokens');
  if (!Array.isArray(rawTokens) || rawTokens.some((t) => typeof t !== 'string')) {
    throw loadError(source, 'tokenizer.ggml.tokens is missing or not a string array');
  }
  const numTokens = rawTokens.length;
  const tokens = (rawTokens as string[]).map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));

  let scores: Float32Array | null = null;
  const rawScores = meta.get('tokenizer.ggml.scores');
  if (rawScores !== undefined) {
    if (!(rawScores instanceof Float32Array) && !(rawScores instanceof Int32Array)) {
      throw loadError(source, 'tokenizer.ggml.scores must be a float32 or int32 array');
    }
    if (rawScores.length < numTokens) throw loadError(source, `tokenizer.ggml.scores has ${rawScores.length} < ${numTokens} entries`);
    scores = rawScores instanceof Float32Array ? rawScores : Float32Array.from(rawScores);
  }

  const attrs = new Uint16Array(numTokens).fill(TokenAttr.NORMAL);
  const rawTypes = meta.get('tokenizer.ggml.token_type');
  if (rawTypes !== undefined) {
    if (!(rawTypes instanceof Int32Array)) throw loadError(source, 'tokenizer.ggml.token_type must be an int32 array');
    if (rawTypes.length < numTokens) throw loadError(source, `tokenizer.ggml.token_type has ${rawTypes.length} < ${numTokens} entries`);
    for (let i = 0; i < numTokens; i++) attrs[i] = TYPE_TO_ATTR[rawTypes[i] as number] ?? TokenAttr.UNDEFINED;
  }

  const tokenToId = new Map<string, number>();
  tokens.forEach((t, i) => tokenToId.set(t, i));
  if (tokenToId.size !== numTokens) throw loadError(source, 'tokenizer.ggml.tokens contains duplicate entries');

  // Defaults per model, then the pre-tokenizer, then explicit keys (llama_vocab::impl::load order).
  const isSpm = model === 'llama';
  let preType: BpePreType = 'default';
  let addBos = isSpm;
  let cleanSpaces = !isSpm;
  let ignoreMerges = false;
  const byIds = new Map<number, number>();
  const byText = new Map<string, number>();
  let merges: string[] = [];
  if (!isSpm) {
    const pre = str('tokenizer.ggml.pre') ?? '';
    if (pre === '' || pre === 'default') preType = 'default';
    else if (PRE_GPT2.includes(pre)) preType = 'gpt2';
    else if (PRE_LLAMA3.includes(pre)) {
      preType = 'llama3';
      ignoreMerges = true;
      addBos = true;
    } else if (PRE_QWEN2.includes(pre)) {
      preType = 'qwen2';
      cleanSpaces = false;
    } else {
      throw loadError(
        source,
        `tokenizer.ggml.pre "${pre}" is not supported (supported: default, ${[...PRE_GPT2, ...PRE_LLAMA3, ...PRE_QWEN2].join(', ')})`,
      );
    }
    const rawMerges = meta.get('tokenizer.ggml.merges');
    if (!Array.isArray(rawMerges)) throw loadError(source, 'tokenizer.ggml.merges is missing or not a string array');
    merges = rawMerges as string[];
    merges.forEach((m: unknown, rank) => {
      if (typeof m !== 'string') throw loadError(source, 'tokenizer.ggml.merges must hold strings');
      // Split at the first space after the first character, as llama.cpp does (no space: "" + "").
      const pos = m.indexOf(' ', 1);
      const left = pos < 0 ? '' : m.slice(0, pos);
      const right = pos < 0 ? '' : m.slice(pos + 1);
      const leftId = tokenToId.get(left);
      const rightId = tokenToId.get(right);
      // The first occurrence of a pair wins.
      if (leftId !== undefined && rightId !== undefined) {
        const key = leftId * numTokens + rightId;
        if (!byIds.has(key)) byIds.set(key, rank);
      } else {
        const key = `${left}\0${right}`;
        if (!byText.has(key)) byText.set(key, rank);
      }
    });
  }
  const addSpacePrefix = bool('tokenizer.ggml.add_space_prefix') ?? isSpm;
  addBos = bool('tokenizer.ggml.add_bos_token') ?? addBos;
  const addEos = bool('tokenizer.ggml.add_eos_token') ?? false;

  // Special ids: a default out of range is disabled; a key out of range keeps the default.
  const specialId = (key: string, fallback: number | null): number | null => {
    let id = fallback !== null && fallback < numTokens ? fallback : null;
    const v = uint(key);
    if (v !== undefined && v >= 0 && v < numTokens) id = v;
    return id;
  };
  const bos = specialId('tokenizer.ggml.bos_token_id', isSpm ? 1 : 11);
  const eos = specialId('tokenizer.ggml.eos_token_id', isSpm ? 2 : 11);
  const unk = specialId('tokenizer.ggml.unknown_token_id', isSpm ? 0 : null);
  let eot = specialId('tokenizer.ggml.eot_token_id', null);
  let eom = specialId('tokenizer.ggml.eom_token_id', null);
  let fimPad = specialId('tokenizer.ggml.fim_pad_token_id', null);
  let fimRep = specialId('tokenizer.ggml.fim_rep_token_id', null);
  let fimSep = specialId('tokenizer.ggml.fim_sep_token_id', null);

  // Auto-detected tokens are forced to CONTROL, as llama.cpp does (so they are skipped in output).
  // With several candidates llama.cpp takes whichever its hash map yields first; we take the first
  // in list order (e.g. <|im_end|> before <|endoftext|>), which only affects the reported eot id.
  const findByText = (texts: readonly string[]): number | null => {
    for (const text of texts) {
      const id = tokenToId.get(text);
      if (id === undefined) continue;
      attrs[id] = (attrs[id] as number) | TokenAttr.CONTROL;
      return id;
    }
    return null;
  };
  eot ??= findByText(EOT_TEXTS);
  eom ??= findByText(['<|eom_id|>']);
  fimPad ??= findByText(FIM_PAD_TEXTS);
  fimRep ??= findByText(FIM_REP_TEXTS);
  fimSep ??= findByText(FIM_SEP_TEXTS);

  const eog = new Set<number>();
  for (const id of [fimPad, fimRep, fimSep]) if (id !== null) eog.add(id);
  for (const text of EOG_TEXTS) {
    const id = tokenToId.get(text);
    if (id === undefined) continue;
    eog.add(id);
    attrs[id] = (attrs[id] as number) | TokenAttr.CONTROL;
  }
  for (const id of [eos, eot, eom]) if (id !== null) eog.add(id);

  const specialMask = TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN;
  const specialTokenIds: number[] = [];
  for (let id = 0; id < numTokens; id++) if ((attrs[id] as number) & specialMask) specialTokenIds.push(id);
  const byteLength = new Map(specialTokenIds.map((id) => [id, Buffer.byteLength(tokens[id] as string)]));
  specialTokenIds.sort((a, b) => (byteLength.get(b) as number) - (byteLength.get(a) as number) || a - b);

  const { pieceData, pieceOffsets } = buildPieces(tokens, attrs, isSpm);

  const template = meta.get('tokenizer.chat_template');
  return {
    model,
    preType,
    tokens,
    scores,
    attrs,
    tokenToId,
    merges,
    mergeRanks: { byIds, byText },
    bos,
    eos,
    eot,
    unk,
    addBos,
    addEos,
    addSpacePrefix,
    cleanSpaces,
    ignoreMerges,
    eog,
    specialTokenIds,
    pieceData,
    pieceOffsets,
    chatTemplate: typeof template === 'string' ? template : null,
  };
}

/**
 * llama.cpp token_to_piece(special = true) for every token, packed into one buffer (one allocation
 * instead of one per token: vocabularies have 10^4..10^5 entries).
 */
function buildPieces(tokens: readonly string[], attrs: Uint16Array, isSpm: boolean): { pieceData: Uint8Array; pieceOffsets: Uint32Array } {
  let capacity = 16;
  for (const t of tokens) capacity += t.length * 3;
  let data = Buffer.allocUnsafe(capacity);
  const offsets = new Uint32Array(tokens.length + 1);
  let at = 0;
  const writeText = (text: string): void => {
    at += data.write(text, at, 'utf8');
  };
  tokens.forEach((text, id) => {
    const attr = attrs[id] as number;
    if (attr & (TokenAttr.UNKNOWN | TokenAttr.CONTROL | TokenAttr.USER_DEFINED)) writeText(text);
    else if (attr & TokenAttr.NORMAL) {
      if (isSpm) writeText(text.replaceAll('\u2581', ' '));
      else {
        // Byte-level BPE text -> bytes; unmapped characters print as llama.cpp's "[UNK_BYTE_0x..]".
        for (const ch of text) {
          const b = UNICODE_TO_BYTE.get(ch.codePointAt(0) as number);
          if (b !== undefined) {
            data[at++] = b;
            continue;
          }
          const marker = `[UNK_BYTE_0x${Buffer.from(ch, 'utf8').toString('hex')}${text}]`;
          if (at + marker.length * 3 > data.length) data = Buffer.concat([data, Buffer.alloc(marker.length * 3 + capacity)]);
          writeText(marker);
        }
      }
    } else if (attr & TokenAttr.BYTE) data[at++] = parseInt(text.slice(3, 5), 16) || 0;
    // unused / undefined tokens print nothing
    offsets[id + 1] = at;
  });
  return { pieceData: new Uint8Array(data.buffer, data.byteOffset, at), pieceOffsets: offsets };
}
