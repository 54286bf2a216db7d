// A synchronous, streaming implementation of tokenizer.json "decoder" pipelines (the HF `tokenizers`
// package only decodes asynchronously, which is unusable per generated token). Supported decoders:
// Replace (string pattern), ByteFallback, Fuse, Strip, Metaspace, ByteLevel and Sequence of them;
// with no decoder, tokens are joined with spaces, as `tokenizers` does.
//
// Semantics follow `tokenizers` (Tokenizer::decode passes every kept token, added tokens included,
// through the decoder) with one deliberate difference: bytes from byte-fallback tokens are decoded as
// one UTF-8 stream (invalid sequences -> one U+FFFD each, WHATWG), where `tokenizers` replaces every
// byte of an invalid run. Valid text decodes identically.
import { KvserveError } from '../errors.js';
import { UNICODE_TO_BYTE } from './byte-unicode.js';

/** A token on its way through the per-token steps: text, or a raw byte from ByteFallback. */
type Piece = string | number;

type TokenStep =
  | { kind: 'replace'; pattern: string; content: string }
  | { kind: 'byteFallback' }
  | { kind: 'strip'; content: string; start: number; stop: number }
  | { kind: 'metaspace'; replacement: string; prependFirst: boolean }
  | { kind: 'joinWithSpace' };

/** A compiled decoder: per-token steps, then (after Fuse / ByteLevel) leading-character strips. */
export interface HfDecoderPlan {
  readonly tokenSteps: readonly TokenStep[];
  /** ByteLevel: token characters are GPT-2 byte stand-ins. */
  readonly byteLevel: boolean;
  /** Strip applied to the fused text: how many leading `content` characters to drop. */
  readonly fusedStrips: readonly { content: string; start: number }[];
}

type Json = Record<string, unknown>;

function unsupported(what: string): KvserveError {
  return new KvserveError('ERR_TOKENIZER_LOAD', `tokenizer.json decoder: ${what} is not supported`);
}

/** Compiles tokenizer.json's `decoder` field. Throws ERR_TOKENIZER_LOAD for unsupported parts. */
export function compileHfDecoder(config: unknown): HfDecoderPlan {
  const tokenSteps: TokenStep[] = [];
  const fusedStrips: { content: string; start: number }[] = [];
  let fused = false;
  let byteLevel = false;
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) throw unsupported(`decoder ${JSON.stringify(node)}`);
    const d = node as Json;
    switch (d.type) {
      case 'Sequence':
        for (const child of (d.decoders as unknown[] | undefined) ?? []) visit(child);
        return;
      case 'Fuse':
        fused = true;
        return;
      case 'ByteLevel':
        if (fused) throw unsupported('ByteLevel after Fuse');
        byteLevel = true;
        fused = true;
        return;
      case 'Strip': {
        const content = String(d.content ?? ' ');
        const start = Number(d.start ?? 0);
        const stop = Number(d.stop ?? 0);
        if (!fused) tokenSteps.push({ kind: 'strip', content, start, stop });
        else if (stop !== 0) throw unsupported('Strip with stop > 0 on fused text (cannot be streamed)');
        else fusedStrips.push({ content, start });
        return;
      }
      case 'Replace': {
        const pattern = d.pattern as Json | undefined;
        if (typeof pattern?.String !== 'string') throw unsupported('Replace with a regex pattern');
        if (fused) throw unsupported('Replace after Fuse');
        tokenSteps.push({ kind: 'replace', pattern: pattern.String, content: String(d.content ?? '') });
        return;
      }
      case 'ByteFallback':
        if (fused) throw unsupported('ByteFallback after Fuse');
        tokenSteps.push({ kind: 'byteFallback' });
        return;
      case 'Metaspace': {
        if (fused) throw unsupported('Metaspace after Fuse');
        const scheme = d.prepend_scheme ?? (d.add_prefix_space === false ? 'never' : 'always');
        tokenSteps.push({ kind: 'metaspace', replacement: String(d.replacement ?? '\u2581'), prependFirst: scheme !== 'never' });
        return;
      }
      default:
        throw unsupported(`decoder type ${JSON.stringify(d.type)}`);
    }
  };
  if (config === null || config === undefined) tokenSteps.push({ kind: 'joinWithSpace' });
  else visit(config);
  return { tokenSteps, byteLevel, fusedStrips };
}

const utf8 = new TextEncoder();
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Runs the per-token steps for the token at `index` (its position among the tokens given to the
 * decoder) and returns its bytes.
 */
export function decodeTokenBytes(plan: HfDecoderPlan, token: string, index: number): Uint8Array {
  let piece: Piece = token;
  for (const step of plan.tokenSteps) {
    if (typeof piece === 'number') break; // raw bytes pass through the remaining text steps untouched
    switch (step.kind) {
      case 'replace':
        piece = piece.replaceAll(step.pattern, step.content);
        break;
      case 'byteFallback': {
        const m = BYTE_TOKEN.exec(piece);
        if (m) piece = parseInt(m[1] as string, 16);
        break;
      }
      case 'strip':
        piece = stripChars(piece, step.content, step.start, step.stop);
        break;
      case 'metaspace':
        // tokenizers drops every replacement character of the first token, not only a leading one.
        piece = piece.replaceAll(step.replacement, index === 0 && step.prependFirst ? '' : ' ');
        break;
      case 'joinWithSpace':
        if (index > 0) piece = ` ${piece}`;
        break;
    }
  }
  if (typeof piece === 'number') return Uint8Array.of(piece);
  if (!plan.byteLevel) return utf8.encode(piece);
  // ByteLevel: map each character back to its byte; a token with any unmapped character is kept as UTF-8.
  const bytes: number[] = [];
  for (const ch of piece) {
    const b = UNICODE_TO_BYTE.get(ch.codePointAt(0) as number);
    if (b === undefined) return utf8.encode(piece);
    bytes.push(b);
  }
  return Uint8Array.from(bytes);
}

function stripChars(s: string, content: string, start: number, stop: number): string {
  const chars = Array.from(s);
  let from = 0;
  while (from < start && from < chars.length && chars[from] === content) from++;
  let to = chars.length;
  for (let i = 0; i < stop && to > from && chars[to - 1] === content; i++) to--;
  return chars.slice(from, to).join('');
}

/** Streaming state for the strips applied to fused text. */
export class FusedStripper {
  private readonly remaining: number[];

  constructor(private readonly strips: HfDecoderPlan['fusedStrips']) {
    this.remaining = strips.map((s) => s.start);
  }

  push(text: string): string {
    // Strips run in order; each one only sees what the previous ones left.
    this.strips.forEach((strip, i) => {
      let left = this.remaining[i] as number;
      while (left > 0 && text.length > 0) {
        if (!text.startsWith(strip.content)) {
          left = 0;
          break;
        }
        text = text.slice(strip.content.length);
        left--;
      }
      this.remaining[i] = left;
    });
    return text;
  }

  /** Marks the start of the text as already seen (used when priming with context). */
  done(): void {
    this.remaining.fill(0);
  }
}
