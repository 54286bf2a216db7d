// The slice of the Engine that the HTTP layer uses. lib/server depends on this interface only, so the
// server never reaches into scheduler, KV or native internals; Engine satisfies it structurally.
import type {
  ChatMessage,
  EngineStats,
  GenerateEvent,
  GenerateOptions,
  PromptInput,
  SamplingParamsInput,
} from '../engine/types.js';

export interface ServingTokenizer {
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  encode(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]>;
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** One token's text in isolation (what logprobs and TGI token events show). */
  decodeToken(id: number): string;
  /** The vocabulary entry as stored, e.g. "▁Hello" (vLLM's token_strs). */
  tokenText(id: number): string;
  isSpecial(id: number): boolean;
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean; template?: string }): string;
}

export interface ServingEngine {
  generate(prompt: PromptInput, params?: SamplingParamsInput, options?: GenerateOptions): AsyncIterable<GenerateEvent>;
  stats(): EngineStats;
  readonly tokenizer: ServingTokenizer;
  readonly modelName: string;
  readonly maxModelLen: number;
  readonly kvCapacity: { numBlocks: number; blockSize: number; numTokens: number };
  /** Scheduler limits, when the engine exposes them (reported by TGI's /info). */
  readonly config?: { readonly maxNumSeqs: number; readonly maxNumQueuedRequests?: number | undefined };
}
