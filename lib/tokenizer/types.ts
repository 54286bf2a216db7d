// The tokenizer contract shared by the GGUF (SentencePiece / byte-level BPE) and Hugging Face
// implementations.
//
// encode is asynchronous for every implementation: the HF `tokenizers` package only offers an async
// encode, and one signature for all keeps callers uniform (the engine tokenizes once per request, in
// an async path). Everything per token (decode, streams, lookups) is synchronous.

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EncodeOptions {
  /** Add the model's BOS (and EOS if it asks for one). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop control / special tokens from the text. Default true (what a server returns). */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Append the assistant-turn opener. Default true. */
  addGenerationPrompt?: boolean;
  /** A Jinja template to use instead of the model's own. */
  template?: string;
}

/**
 * Streaming decoder: push ids one at a time and get text deltas that are always valid UTF-16/UTF-8
 * (incomplete multi-byte characters are held back). The concatenation of every push() result and
 * flush() equals decode(ids) with the same options.
 */
export interface DecodeStream {
  push(id: number): string;
  /** Ends the stream: returns held-back text (an incomplete character becomes U+FFFD). */
  flush(): string;
  /**
   * Feeds context ids (e.g. the tail of the prompt) without producing text, so the next pushes
   * decode as a continuation (no leading-space stripping of a "first" token).
   */
  prime(ids: readonly number[]): void;
}

export type TokenizerKind = 'gguf-spm' | 'gguf-bpe' | 'hf';

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Number of ids (including added tokens). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  /** Ids that end generation (GGUF: eos, eot, eom and end-of-generation tokens; HF: eos ids). */
  readonly eosTokenIds: readonly number[];
  /** Whether encode() with addSpecialTokens adds a BOS token. */
  readonly addBosToken: boolean;
  /** The model's own chat template, if it has one. */
  readonly chatTemplate: string | null;

  encode(text: string, opts?: EncodeOptions): Promise<number[]>;
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  createDecodeStream(opts?: DecodeOptions): DecodeStream;
  /** One token's text in isolation, special tokens included (for logprobs and debugging). */
  decodeToken(id: number): string;
  /** The vocabulary entry as stored (e.g. "▁Hello", "<0x0A>", "Ġworld"). */
  tokenText(id: number): string;
  /** True for tokens that decode() drops when skipSpecialTokens is set. */
  isSpecial(id: number): boolean;
  /** Renders a chat with the model's (or the given) Jinja chat template. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
}
