// Tokenizer for GGUF models, matching llama.cpp: tokenizer.ggml.model "llama" (SentencePiece) and
// "gpt2" (byte-level BPE). Special-token text in the input is parsed (parse_special = true).
import { invalidArgument } from '../errors.js';
import { BpeEncoder } from './bpe-encoder.js';
import { applyChatTemplate } from './chat-template.js';
import { SpaceCleaner } from './clean-spaces.js';
import { readGgufTokenizerMetadata } from './gguf-vocab.js';
import { buildLlamaVocab, TokenAttr, type LlamaVocab } from './llama-vocab.js';
import { partitionSpecialTokens } from './special-partition.js';
import { SpmEncoder } from './spm-encoder.js';
import type {
  ChatMessage,
  ChatTemplateOptions,
  DecodeOptions,
  DecodeStream,
  EncodeOptions,
  Tokenizer,
  TokenizerKind,
} from './types.js';
import { toWellFormed } from './utf8.js';

const SKIPPED_ATTRS = TokenAttr.UNKNOWN | TokenAttr.CONTROL;
const EMPTY = new Uint8Array(0);

export class GgufTokenizer implements Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly addBosToken: boolean;
  readonly chatTemplate: string | null;
  private readonly encoder: SpmEncoder | BpeEncoder;
  private readonly pieceDecoder = new TextDecoder('utf-8');

  constructor(readonly vocab: LlamaVocab) {
    const isSpm = vocab.model === 'llama';
    this.kind = isSpm ? 'gguf-spm' : 'gguf-bpe';
    this.encoder = isSpm ? new SpmEncoder(vocab) : new BpeEncoder(vocab);
    this.vocabSize = vocab.tokens.length;
    this.bosTokenId = vocab.bos;
    this.eosTokenIds = [...vocab.eog].sort((a, b) => a - b);
    this.addBosToken = vocab.addBos && vocab.bos !== null;
    this.chatTemplate = vocab.chatTemplate;
  }

  static async fromFile(path: string): Promise<GgufTokenizer> {
    return new GgufTokenizer(buildLlamaVocab(await readGgufTokenizerMetadata(path), path));
  }

  encode(text: string, opts?: EncodeOptions): Promise<number[]> {
    return Promise.resolve(this.encodeSync(text, opts));
  }

  /** Synchronous encode (the GGUF tokenizers need no async work; encode() wraps this). */
  encodeSync(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    const vocab = this.vocab;
    const addSpecial = opts.addSpecialTokens ?? true;
    const out: number[] = [];
    if (addSpecial && vocab.addBos && vocab.bos !== null) out.push(vocab.bos);
    const fragments = partitionSpecialTokens(toWellFormed(text), vocab.specialTokenIds, (id) => this.tokenText(id));
    if (this.encoder instanceof SpmEncoder) {
      // SPM prefixes a space to the first fragment and to every fragment that follows a special token.
      let afterSpecial = true;
      for (const fragment of fragments) {
        if ('id' in fragment) {
          out.push(fragment.id);
          afterSpecial = true;
          continue;
        }
        const prefixed = vocab.addSpacePrefix && afterSpecial ? ` ${fragment.text}` : fragment.text;
        this.encoder.encode(prefixed.replaceAll(' ', '\u2581'), out);
        afterSpecial = false;
      }
    } else {
      for (const fragment of fragments) {
        if ('id' in fragment) out.push(fragment.id);
        else this.encoder.encode(fragment.text, out);
      }
    }
    if (addSpecial && vocab.addEos && vocab.eos !== null) out.push(vocab.eos);
    return out;
  }

  decode(ids: readonly number[], opts?: DecodeOptions): string {
    const stream = this.createDecodeStream(opts);
    let text = '';
    for (const id of ids) text += stream.push(id);
    return text + stream.flush();
  }

  createDecodeStream(opts: DecodeOptions = {}): DecodeStream {
    return new GgufDecodeStream(this, opts.skipSpecialTokens ?? true);
  }

  /** The bytes a token contributes to decoded text (llama.cpp token_to_piece, no stripping). */
  pieceBytes(id: number, skipSpecialTokens: boolean): Uint8Array {
    this.checkId(id);
    if (skipSpecialTokens && (this.vocab.attrs[id] as number) & SKIPPED_ATTRS) return EMPTY;
    const { pieceData, pieceOffsets } = this.vocab;
    return pieceData.subarray(pieceOffsets[id] as number, pieceOffsets[id + 1] as number);
  }

  decodeToken(id: number): string {
    return this.pieceDecoder.decode(this.pieceBytes(id, false));
  }

  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.tokens[id] as string;
  }

  isSpecial(id: number): boolean {
    this.checkId(id);
    return ((this.vocab.attrs[id] as number) & SKIPPED_ATTRS) !== 0;
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string {
    const { bos, eos } = this.vocab;
    return applyChatTemplate(
      {
        modelTemplate: this.chatTemplate,
        bosToken: bos === null ? '' : this.tokenText(bos),
        eosToken: eos === null ? '' : this.tokenText(eos),
      },
      messages,
      opts,
    );
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw invalidArgument('token id', `an integer in [0, ${this.vocabSize})`, id);
    }
  }
}

/**
 * llama.cpp's detokenize (remove_special = false) as a stream: token pieces are concatenated, the
 * first token loses one leading space when the vocabulary adds a space prefix, bytes are decoded as
 * UTF-8 (a split character waits for its remaining bytes), and clean_spaces runs incrementally.
 */
class GgufDecodeStream implements DecodeStream {
  private first = true;
  private readonly utf8 = new TextDecoder('utf-8');
  private readonly cleaner: SpaceCleaner | null;

  constructor(
    private readonly tokenizer: GgufTokenizer,
    private readonly skipSpecialTokens: boolean,
  ) {
    this.cleaner = tokenizer.vocab.cleanSpaces ? new SpaceCleaner() : null;
  }

  push(id: number): string {
    let piece = this.tokenizer.pieceBytes(id, this.skipSpecialTokens);
    if (this.first) {
      // Only the very first token is considered, even when it prints nothing (as llama.cpp).
      if (this.tokenizer.vocab.addSpacePrefix && piece[0] === 0x20) piece = piece.subarray(1);
      this.first = false;
    }
    const text = this.utf8.decode(piece, { stream: true });
    return this.cleaner ? this.cleaner.push(text) : text;
  }

  flush(): string {
    const text = this.utf8.decode();
    return this.cleaner ? this.cleaner.push(text) + this.cleaner.flush() : text;
  }

  prime(ids: readonly number[]): void {
    for (const id of ids) this.push(id);
    this.cleaner?.discardPending();
  }
}
