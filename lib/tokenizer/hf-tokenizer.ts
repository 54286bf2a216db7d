// Tokenizer for Hugging Face model directories: tokenizer.json through the `tokenizers` package for
// encoding; decoding, token lookups and special tokens from our own reading of the same files, so they
// are synchronous (see hf-decoder.ts).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfNativeTokenizer } from 'tokenizers';
import { invalidArgument, KvserveError } from '../errors.js';
import { applyChatTemplate } from './chat-template.js';
import { compileHfDecoder, decodeTokenBytes, FusedStripper, type HfDecoderPlan } from './hf-decoder.js';
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

type Json = Record<string, unknown>;

// transformers rebuilds the post-processor of these tokenizer classes from add_bos_token /
// add_eos_token (LlamaTokenizerFast.update_post_processor), overriding tokenizer.json.
const CONFIG_DRIVEN_SPECIALS = /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/;

function loadError(dir: string, message: string, cause?: unknown): KvserveError {
  return new KvserveError('ERR_TOKENIZER_LOAD', `${dir}: ${message}`, cause === undefined ? undefined : { cause });
}

async function readJson(dir: string, name: string, required: boolean): Promise<Json | null> {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (required) throw loadError(dir, `${name} not found`);
    return null;
  }
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Json;
  } catch (err) {
    throw loadError(dir, `${name} is not valid JSON: ${(err as Error).message}`, err);
  }
}

/**
 * tokenizer.json models the `tokenizers` library loads but then fails on while encoding (found by
 * bench/fuzz/loaders.ts): an unk_token outside the vocabulary (encode rejects), and, in a thread where
 * the panic aborts the whole process, a BPE model with a
 * `continuing_subword_prefix` ("null" for null: "slice index starts at 1 but ends at 0", bpe/model.rs).
 * LLaMA-family tokenizers (SentencePiece BPE with byte fallback, GPT-2 byte-level BPE) have none; the
 * prefix belongs to WordPiece-style vocabularies, so such a BPE model is refused at load instead.
 */
function rejectAbortingModel(dir: string, model: unknown): void {
  if (typeof model !== 'object' || model === null) return;
  const m = model as Json;
  if (m.type !== 'BPE') return;
  // An unk_token missing from the vocabulary makes every encode that meets an unknown piece fail
  // ("Unk token `<unk>` not found in the vocabulary"), so the tokenizer works for some texts only.
  const unk = m.unk_token;
  const vocab = typeof m.vocab === 'object' && m.vocab !== null ? (m.vocab as Json) : {};
  if (typeof unk === 'string' && !Object.hasOwn(vocab, unk)) {
    throw loadError(dir, `tokenizer.json: model.unk_token ${JSON.stringify(unk).slice(0, 40)} is not in model.vocab`);
  }
  const prefix = m.continuing_subword_prefix;
  if (prefix !== undefined && prefix !== null && prefix !== '') {
    throw loadError(dir, `tokenizer.json: model.continuing_subword_prefix: expected null for a BPE model (kvserve serves SentencePiece and byte-level BPE tokenizers), got ${JSON.stringify(prefix)?.slice(0, 40)}`);
  }
}

/**
 * The same for post-processors (also found by the loader fuzzer): a TemplateProcessing whose template
 * names a special token its `special_tokens` map lacks panics on every encode ("no entry found for key",
 * processors/template.rs). Checked in Sequence processors too.
 */
function rejectAbortingPostProcessor(dir: string, processor: unknown, where: string): void {
  if (typeof processor !== 'object' || processor === null) return;
  const p = processor as Json;
  if (p.type === 'Sequence' && Array.isArray(p.processors)) {
    p.processors.forEach((inner, i) => rejectAbortingPostProcessor(dir, inner, `${where}.processors[${i}]`));
    return;
  }
  if (p.type !== 'TemplateProcessing') return;
  const special = typeof p.special_tokens === 'object' && p.special_tokens !== null ? (p.special_tokens as Json) : {};
  for (const part of ['single', 'pair'] as const) {
    const template = p[part];
    if (!Array.isArray(template)) continue;
    for (const piece of template) {
      const id = (piece as { SpecialToken?: { id?: unknown } } | null)?.SpecialToken?.id;
      if (id !== undefined && (typeof id !== 'string' || !Object.hasOwn(special, id))) {
        throw loadError(dir, `tokenizer.json: ${where}.${part}: the template names the special token ${JSON.stringify(id)?.slice(0, 60)}, which ${where}.special_tokens does not define`);
      }
    }
  }
}

/** A special-token entry of tokenizer_config.json / special_tokens_map.json: a string or { content }. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string') {
    return (value as Json).content as string;
  }
  return null;
}

export class HfTokenizer implements Tokenizer {
  readonly kind: TokenizerKind = 'hf';
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly addBosToken: boolean;
  readonly chatTemplate: string | null;

  private constructor(
    private readonly native: HfNativeTokenizer,
    /** Token string per id (added tokens as their content); undefined for holes. */
    private readonly idToToken: readonly (string | undefined)[],
    private readonly specialIds: ReadonlySet<number>,
    readonly decoderPlan: HfDecoderPlan,
    /** Set when BOS/EOS come from tokenizer_config.json rather than the post-processor. */
    private readonly configSpecials: { addBos: boolean; addEos: boolean } | null,
    private readonly bosText: string | null,
    private readonly eosText: string | null,
    private readonly eosId: number | null,
    init: { vocabSize: number; bos: number | null; eos: number[]; addBos: boolean; template: string | null },
  ) {
    this.vocabSize = init.vocabSize;
    this.bosTokenId = init.bos;
    this.eosTokenIds = init.eos;
    this.addBosToken = init.addBos;
    this.chatTemplate = init.template;
  }

  /** Loads tokenizer.json + tokenizer_config.json [+ special_tokens_map.json, generation_config.json]. */
  static async fromDirectory(dir: string): Promise<HfTokenizer> {
    const tokenizerJson = (await readJson(dir, 'tokenizer.json', true)) as Json;
    const config = (await readJson(dir, 'tokenizer_config.json', false)) ?? {};
    const specialMap = (await readJson(dir, 'special_tokens_map.json', false)) ?? {};
    const generation = (await readJson(dir, 'generation_config.json', false)) ?? {};

    rejectAbortingModel(dir, tokenizerJson.model);
    rejectAbortingPostProcessor(dir, tokenizerJson.post_processor, 'post_processor');
    let native: HfNativeTokenizer;
    try {
      native = HfNativeTokenizer.fromFile(join(dir, 'tokenizer.json'));
    } catch (err) {
      throw loadError(dir, `tokenizers could not load tokenizer.json: ${(err as Error).message}`, err);
    }

    const { idToToken, tokenToId, specialIds } = readVocabulary(dir, tokenizerJson);
    const decoderPlan = compileHfDecoder(tokenizerJson.decoder);

    const lookup = (key: string): { text: string | null; id: number | null } => {
      const text = tokenContent(config[key]) ?? tokenContent(specialMap[key]);
      return { text, id: text === null ? null : (tokenToId.get(text) ?? null) };
    };
    const bos = lookup('bos_token');
    const eos = lookup('eos_token');
    const eosIds = new Set<number>();
    if (eos.id !== null) eosIds.add(eos.id);
    const genEos = generation.eos_token_id;
    for (const id of Array.isArray(genEos) ? genEos : [genEos]) if (typeof id === 'number') eosIds.add(id);

    let configSpecials: { addBos: boolean; addEos: boolean } | null = null;
    if (typeof config.tokenizer_class === 'string' && CONFIG_DRIVEN_SPECIALS.test(config.tokenizer_class)) {
      configSpecials = {
        addBos: typeof config.add_bos_token === 'boolean' ? config.add_bos_token : true,
        addEos: typeof config.add_eos_token === 'boolean' ? config.add_eos_token : false,
      };
    }
    const addBos = configSpecials
      ? configSpecials.addBos && bos.id !== null
      : bos.id !== null && postProcessorAddsToken(tokenizerJson.post_processor, bos.id);

    return new HfTokenizer(native, idToToken, specialIds, decoderPlan, configSpecials, bos.text, eos.text, eos.id, {
      vocabSize: native.getVocabSize(true),
      bos: bos.id,
      eos: [...eosIds].sort((a, b) => a - b),
      addBos,
      template: await readChatTemplate(dir, config),
    });
  }

  async encode(text: string, opts: EncodeOptions = {}): Promise<number[]> {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    const addSpecial = opts.addSpecialTokens ?? true;
    const manual = this.configSpecials;
    const encoding = await this.native.encode(toWellFormed(text), null, {
      addSpecialTokens: manual ? false : addSpecial,
    });
    const ids = encoding.getIds();
    if (manual && addSpecial) {
      if (manual.addBos && this.bosTokenId !== null) ids.unshift(this.bosTokenId);
      if (manual.addEos && this.eosId !== null) ids.push(this.eosId);
    }
    return ids;
  }

  /** The `tokenizers` package's own (async) decode; used to cross-check decode() in tests. */
  nativeDecode(ids: readonly number[], skipSpecialTokens: boolean): Promise<string> {
    return this.native.decode([...ids], skipSpecialTokens);
  }

  decode(ids: readonly number[], opts?: DecodeOptions): string {
    const stream = this.createDecodeStream(opts);
    let text = '';
    for (const id of ids) text += stream.push(id);
    return text + stream.flush();
  }

  createDecodeStream(opts: DecodeOptions = {}): DecodeStream {
    return new HfDecodeStream(this, opts.skipSpecialTokens ?? true);
  }

  /** The token string given to the decoder, or null when it is skipped (special / unknown id hole). */
  decoderToken(id: number, skipSpecialTokens: boolean): string | null {
    this.checkId(id);
    if (skipSpecialTokens && this.specialIds.has(id)) return null;
    return this.idToToken[id] ?? null;
  }

  decodeToken(id: number): string {
    const token = this.decoderToken(id, false);
    // Position 1: a token shown on its own keeps its leading space (no first-token stripping).
    return token === null ? '' : new TextDecoder().decode(decodeTokenBytes(this.decoderPlan, token, 1));
  }

  tokenText(id: number): string {
    this.checkId(id);
    return this.idToToken[id] ?? '';
  }

  isSpecial(id: number): boolean {
    this.checkId(id);
    return this.specialIds.has(id);
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string {
    return applyChatTemplate(
      { modelTemplate: this.chatTemplate, bosToken: this.bosText ?? '', eosToken: this.eosText ?? '' },
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

/** The HF decoder pipeline as a stream: per-token steps, one UTF-8 stream, then fused-text strips. */
class HfDecodeStream implements DecodeStream {
  private index = 0;
  private readonly utf8 = new TextDecoder('utf-8');
  private readonly stripper: FusedStripper;

  constructor(
    private readonly tokenizer: HfTokenizer,
    private readonly skipSpecialTokens: boolean,
  ) {
    this.stripper = new FusedStripper(tokenizer.decoderPlan.fusedStrips);
  }

  push(id: number): string {
    const token = this.tokenizer.decoderToken(id, this.skipSpecialTokens);
    if (token === null) return '';
    const bytes = decodeTokenBytes(this.tokenizer.decoderPlan, token, this.index++);
    return this.stripper.push(this.utf8.decode(bytes, { stream: true }));
  }

  flush(): string {
    return this.stripper.push(this.utf8.decode());
  }

  prime(ids: readonly number[]): void {
    for (const id of ids) this.push(id);
    if (this.index > 0) this.stripper.done();
  }
}

/** Token strings by id from tokenizer.json's model vocabulary and added_tokens. */
function readVocabulary(
  dir: string,
  json: Json,
): { idToToken: (string | undefined)[]; tokenToId: Map<string, number>; specialIds: Set<number> } {
  const model = json.model as Json | undefined;
  const idToToken: (string | undefined)[] = [];
  const tokenToId = new Map<string, number>();
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...] in id order.
    vocab.forEach((entry: unknown, id) => {
      if (Array.isArray(entry) && typeof entry[0] === 'string') {
        idToToken[id] = entry[0];
        tokenToId.set(entry[0], id);
      }
    });
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) {
      if (typeof id === 'number') {
        idToToken[id] = token;
        tokenToId.set(token, id);
      }
    }
  } else {
    throw loadError(dir, 'tokenizer.json has no model.vocab');
  }
  const specialIds = new Set<number>();
  for (const added of (json.added_tokens as Json[] | undefined) ?? []) {
    if (typeof added.id !== 'number' || typeof added.content !== 'string') continue;
    idToToken[added.id] = added.content;
    tokenToId.set(added.content, added.id);
    if (added.special === true) specialIds.add(added.id);
  }
  return { idToToken, tokenToId, specialIds };
}

/** Whether the post-processor puts `id` in front of a single sequence. */
function postProcessorAddsToken(pp: unknown, id: number): boolean {
  if (typeof pp !== 'object' || pp === null) return false;
  const p = pp as Json;
  switch (p.type) {
    case 'Sequence':
      return ((p.processors as unknown[] | undefined) ?? []).some((child) => postProcessorAddsToken(child, id));
    case 'TemplateProcessing': {
      const first = (p.single as Json[] | undefined)?.[0]?.SpecialToken as Json | undefined;
      if (!first || typeof first.id !== 'string') return false;
      const entry = (p.special_tokens as Record<string, Json> | undefined)?.[first.id];
      return Array.isArray(entry?.ids) && entry.ids[0] === id;
    }
    case 'BertProcessing':
    case 'RobertaProcessing':
      return Array.isArray(p.cls) && p.cls[1] === id;
    default:
      return false;
  }
}

/** chat_template.jinja (newer transformers) or tokenizer_config.json chat_template (string or named list). */
async function readChatTemplate(dir: string, config: Json): Promise<string | null> {
  const file = join(dir, 'chat_template.jinja');
  if (existsSync(file)) return readFile(file, 'utf8');
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const pick = named.find((x) => x.name === 'default') ?? named[0];
    if (typeof pick?.template === 'string') return pick.template;
  }
  return null;
}
