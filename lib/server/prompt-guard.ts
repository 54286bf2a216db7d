// Refuses, before tokenizing, prompt text that cannot fit in the model's context: tokenizing a
// multi-megabyte body takes seconds of CPU, and the GGUF tokenizer runs on the event loop, so one
// such request would stall every stream the server is serving. A token covers at most as many
// characters as its longest vocabulary entry (normalization aside, hence a generous factor), so a
// text longer than maxModelLen x that x 4 is over the context whatever it tokenizes to.
import type { ChatMessage } from '../engine/types.js';
import { badRequest } from './http-error.js';
import type { ServingEngine, ServingTokenizer } from './serving-engine.js';

const SLACK_FACTOR = 4;
const MIN_LIMIT = 65_536;

/** Most characters any one token of the vocabulary stands for. */
export function longestTokenChars(tokenizer: ServingTokenizer): number {
  let longest = 1;
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const n = tokenizer.tokenText(id).length;
    if (n > longest) longest = n;
  }
  return longest;
}

export function promptCharLimit(tokenizer: ServingTokenizer, maxModelLen: number): number {
  return Math.max(MIN_LIMIT, maxModelLen * longestTokenChars(tokenizer) * SLACK_FACTOR);
}

class GuardedTokenizer implements ServingTokenizer {
  constructor(private readonly inner: ServingTokenizer, private readonly limit: number, private readonly maxModelLen: number) {}

  get vocabSize(): number { return this.inner.vocabSize; }
  get eosTokenIds(): readonly number[] { return this.inner.eosTokenIds; }

  encode(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]> {
    if (text.length > this.limit) {
      return Promise.reject(badRequest(
        `prompt: expected text that can fit in the model's context of ${this.maxModelLen} tokens (at most ${this.limit} characters), got ${text.length} characters`,
        'prompt',
        'context_length_exceeded',
      ));
    }
    return this.inner.encode(text, options);
  }

  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string { return this.inner.decode(ids, options); }
  decodeToken(id: number): string { return this.inner.decodeToken(id); }
  tokenText(id: number): string { return this.inner.tokenText(id); }
  isSpecial(id: number): boolean { return this.inner.isSpecial(id); }
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean; template?: string }): string {
    return this.inner.applyChatTemplate(messages, options);
  }
}

/** The engine as the routes see it: the same engine, with prompt text bounded before tokenization. */
export function withPromptGuard(engine: ServingEngine): ServingEngine {
  const tokenizer = new GuardedTokenizer(engine.tokenizer, promptCharLimit(engine.tokenizer, engine.maxModelLen), engine.maxModelLen);
  return {
    generate: (prompt, params, options) => engine.generate(prompt, params, options),
    stats: () => engine.stats(),
    tokenizer,
    get modelName() { return engine.modelName; },
    get maxModelLen() { return engine.maxModelLen; },
    get kvCapacity() { return engine.kvCapacity; },
    get config() { return engine.config; },
  };
}
