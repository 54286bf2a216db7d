// Public API of kvserve: everything `import ... from 'kvserve'` offers. Internal modules stay private;
// add an export here only for something a user of the package needs.
export { Engine } from './engine/engine.js';
export type { EngineOptions, ResolvedEngineConfig } from './engine/engine-options.js';
export type {
  ChatMessage,
  DeltaEvent,
  EngineStats,
  FinalEvent,
  FinishReason,
  GenerateEvent,
  GenerateOptions,
  PromptInput,
  RequestMetrics,
  SamplingParamsInput,
  TokenLogprob,
  Usage,
} from './engine/types.js';
export type { SamplingParams } from './sampling/sampling-params.js';

export { loadTokenizer } from './tokenizer/index.js';
export type { ChatTemplateOptions, DecodeOptions, DecodeStream, EncodeOptions, Tokenizer, TokenizerKind } from './tokenizer/types.js';

export { loadModelSpec } from './model/load-model-spec.js';
export { DType } from './model/types.js';
export type {
  Architecture,
  GenerationDefaults,
  ModelConfig,
  ModelSpec,
  RopeLayout,
  RopeScaling,
  TensorSpec,
} from './model/types.js';

export { ErrorCodes, KvserveError, type ErrorCode } from './errors.js';

// Embedding the HTTP server: buildApp(engine, options) returns a fastify instance that never listens and
// installs no signal handlers (the caller listens, and drains through app.kvserve on its own shutdown).
export { buildApp, type ServerOptions } from './server/app.js';
