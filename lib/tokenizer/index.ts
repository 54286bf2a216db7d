// Public entry point of the tokenizer module: loadTokenizer() picks the implementation from the path.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KvserveError } from '../errors.js';
import { GgufTokenizer } from './gguf-tokenizer.js';
import { HfTokenizer } from './hf-tokenizer.js';
import type { Tokenizer } from './types.js';

export type {
  ChatMessage,
  ChatTemplateOptions,
  DecodeOptions,
  DecodeStream,
  EncodeOptions,
  Tokenizer,
  TokenizerKind,
} from './types.js';
export { IncrementalDetokenizer, type IncrementalDetokenizerOptions } from './incremental-detokenizer.js';
export { StopStringMatcher } from './stop-strings.js';
export { readGgufTokenizerMetadata } from './gguf-vocab.js';
export { GgufTokenizer } from './gguf-tokenizer.js';
export { HfTokenizer } from './hf-tokenizer.js';

/**
 * Loads the tokenizer of a model: a GGUF file (its embedded vocabulary) or a Hugging Face model
 * directory (tokenizer.json + tokenizer_config.json [+ special_tokens_map.json]).
 */
export async function loadTokenizer(pathOrDir: string): Promise<Tokenizer> {
  if (typeof pathOrDir !== 'string' || !existsSync(pathOrDir)) {
    throw new KvserveError('ERR_MODEL_NOT_FOUND', `tokenizer path does not exist: ${String(pathOrDir)}`);
  }
  if (statSync(pathOrDir).isDirectory()) {
    if (!existsSync(join(pathOrDir, 'tokenizer.json'))) {
      throw new KvserveError(
        'ERR_TOKENIZER_LOAD',
        `${pathOrDir}: no tokenizer.json (an HF model directory needs tokenizer.json and tokenizer_config.json; ` +
          'tokenizer.model-only directories are not supported)',
      );
    }
    return HfTokenizer.fromDirectory(pathOrDir);
  }
  return GgufTokenizer.fromFile(pathOrDir);
}
