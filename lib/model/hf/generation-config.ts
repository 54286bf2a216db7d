// generation_config.json -> GenerationDefaults: the sampling settings the model's authors
// recommend (vLLM and TGI apply the same fields as request defaults).
import { formatError } from '../format-error.js';
import { isPlainObject } from '../safetensors/reader.js';
import type { GenerationDefaults } from '../types.js';
import { HfFields } from './config.js';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

export function parseGenerationConfig(file: string, json: unknown): GenerationDefaults {
  if (!isPlainObject(json)) throw formatError(file, 'must be a JSON object');
  const f = new HfFields(file, json);
  const out: GenerationDefaults = {};
  const temperature = f.number('temperature');
  if (temperature !== undefined) out.temperature = temperature;
  const topK = f.int('top_k', 0);
  if (topK !== undefined) out.topK = topK;
  const topP = f.number('top_p');
  if (topP !== undefined) out.topP = topP;
  const minP = f.number('min_p');
  if (minP !== undefined) out.minP = minP;
  const repetitionPenalty = f.number('repetition_penalty');
  if (repetitionPenalty !== undefined) out.repetitionPenalty = repetitionPenalty;
  const maxNewTokens = f.int('max_new_tokens', 1);
  if (maxNewTokens !== undefined) out.maxNewTokens = maxNewTokens;
  const eos = f.tokenIds('eos_token_id');
  if (eos.length > 0) out.eosTokenIds = eos;
  const bos = f.tokenId('bos_token_id');
  if (bos !== undefined) out.bosTokenId = bos;
  return out;
}
