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
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  isSpecial(id: number): boolean;
  /** The text one token contributes (as decoded on its own). */
  tokenText(id: number): string;
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
}

export interface ServingEngine {
  generate(prompt: PromptInput, params?: SamplingParamsInput, options?: GenerateOptions): AsyncIterable<GenerateEvent>;
  stats(): EngineStats;
  readonly tokenizer: ServingTokenizer;
  readonly modelName: string;
  readonly maxModelLen: number;
  readonly kvCapacity: { numBlocks: number; blockSize: number; numTokens: number };
}
