// Incremental detokenization of generated tokens: feed ids one at a time, get text deltas that are
// valid UTF-8 and, concatenated (with finish()), equal the tokenizer's decode of the same ids; stop
// strings are detected across token boundaries and end the output.
import { invalidArgument } from '../errors.js';
import { StopStringMatcher } from './stop-strings.js';
import type { DecodeStream, Tokenizer } from './types.js';

/** How many trailing prompt ids are replayed to give the first generated token its context. */
const PROMPT_CONTEXT_IDS = 6;

export interface IncrementalDetokenizerOptions {
  /** Default true. */
  skipSpecialTokens?: boolean;
  /** Stop strings; output ends at the first one to complete. */
  stop?: readonly string[];
  /** Keep the stop string itself in the output. Default false. */
  includeStopStrInOutput?: boolean;
  /**
   * The prompt, when the ids pushed continue it: its last few ids are used as context so that the
   * first generated token is not treated as the start of the text (e.g. keeps its leading space).
   */
  promptIds?: readonly number[];
}

export class IncrementalDetokenizer {
  private readonly stream: DecodeStream;
  private readonly matcher: StopStringMatcher | null;
  private output = '';
  private hit: string | null = null;
  private finished = false;

  constructor(tokenizer: Tokenizer, opts: IncrementalDetokenizerOptions = {}) {
    const stop = opts.stop ?? [];
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw invalidArgument('stop', 'an array of non-empty strings', stop);
    }
    this.stream = tokenizer.createDecodeStream({ skipSpecialTokens: opts.skipSpecialTokens ?? true });
    const prompt = opts.promptIds ?? [];
    if (prompt.length > 0) this.stream.prime(prompt.slice(-PROMPT_CONTEXT_IDS));
    this.matcher = stop.length > 0 ? new StopStringMatcher(stop, opts.includeStopStrInOutput ?? false) : null;
  }

  /** True once a stop string was found; later pushes return ''. */
  get stopped(): boolean {
    return this.hit !== null;
  }

  /** The stop string that ended the output, or null. */
  get stopString(): string | null {
    return this.hit;
  }

  /** All text returned so far. */
  get text(): string {
    return this.output;
  }

  /** Adds one generated id; returns the new text (possibly empty while bytes or a stop prefix are held). */
  push(id: number): string {
    if (this.finished || this.hit !== null) return '';
    return this.emit(this.stream.push(id));
  }

  /** Ends the sequence: releases held text (an incomplete character becomes U+FFFD). */
  finish(): string {
    if (this.finished) return '';
    this.finished = true;
    if (this.hit !== null) return '';
    let delta = this.emit(this.stream.flush());
    if (this.matcher && this.hit === null) delta += this.record(this.matcher.flush());
    return delta;
  }

  private emit(piece: string): string {
    if (!this.matcher) return this.record(piece);
    const scan = this.matcher.push(piece);
    if (scan.stop !== null) this.hit = scan.stop;
    return this.record(scan.text);
  }

  private record(delta: string): string {
    this.output += delta;
    return delta;
  }
}
