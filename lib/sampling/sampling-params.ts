// SamplingParams: how tokens are chosen and when a request stops. validateSamplingParams is the
// edge check (house rule 6): it takes untrusted input, fills defaults and returns a complete,
// normalized SamplingParams, or throws ERR_INVALID_ARGUMENT naming the field, the allowed range
// and the value it got. Everything downstream trusts the result.
//
// Defaults, in order: the input's own value; `defaults` (the model's generation_config.json:
// temperature, top_k, top_p, ... mapped to these names); vLLM's defaults (VLLM_DEFAULTS).
// `null` and `undefined` both mean "not given".
//
// Normalizations (as vLLM):
//   - temperature < 1e-5 means greedy: temperature 0, topK 0, topP 1, minP 0.
//   - topK -1 and 0 mean "off" and are stored as 0; a topK >= vocabSize is off too (0).
//   - maxTokens null means "until the model's context is full": the scheduler caps every request
//     at maxModelLen - promptLength generated tokens, so null is that cap. An explicit maxTokens
//     whose sum with the prompt passes maxModelLen is not an error: generation stops at
//     maxModelLen with finish reason "length".
//   - stop given as one string becomes a one-element array.
import { KvserveError, invalidArgument } from '../errors.js';

export interface SamplingParams {
  /** Number of sequences sampled from the prompt (siblings share the prompt's KV blocks). */
  readonly n: number;
  /** 0 = greedy. */
  readonly temperature: number;
  /** Keep the k most likely tokens; 0 = off. */
  readonly topK: number;
  /** Nucleus sampling mass in (0, 1]; 1 = off. */
  readonly topP: number;
  /** Drop tokens below minP * p(most likely); 0 = off. */
  readonly minP: number;
  /** Multiplicative penalty on prompt and output tokens (> 1 discourages repeats); 1 = off. */
  readonly repetitionPenalty: number;
  /** Subtracted once from the logit of each token present in the output; 0 = off. */
  readonly presencePenalty: number;
  /** Subtracted per occurrence in the output; 0 = off. */
  readonly frequencyPenalty: number;
  /** Added to the logits of the given token ids. */
  readonly logitBias: Readonly<Record<number, number>>;
  /** Seeded per-request generator when set. */
  readonly seed: number | null;
  /** Cap on generated tokens; null = up to maxModelLen - promptLength. */
  readonly maxTokens: number | null;
  /** EOS and stop token ids are ignored until this many tokens were generated. */
  readonly minTokens: number;
  /** Stop strings (the detokenizer finishes the request on a hit). */
  readonly stop: readonly string[];
  /** Token ids that finish the request (kept in the output token ids). */
  readonly stopTokenIds: readonly number[];
  /** Keep generating past EOS. */
  readonly ignoreEos: boolean;
  /** Number of top alternatives returned with each token's logprob; null = no logprobs. */
  readonly logprobs: number | null;
  readonly includeStopStrInOutput: boolean;
  readonly skipSpecialTokens: boolean;
}

/** What callers may pass: any subset; null = not given; `stop` may be a single string. */
export type SamplingParamsInput = {
  readonly [K in keyof SamplingParams]?: (K extends 'stop' ? string | readonly string[] : SamplingParams[K]) | null;
};

/** vLLM's defaults, used for whatever neither the input nor the model's defaults set. */
export const VLLM_DEFAULTS: SamplingParams = Object.freeze({
  n: 1,
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: Object.freeze({}),
  seed: null,
  maxTokens: null,
  minTokens: 0,
  stop: Object.freeze([]) as readonly string[],
  stopTokenIds: Object.freeze([]) as readonly number[],
  ignoreEos: false,
  logprobs: null,
  includeStopStrInOutput: false,
  skipSpecialTokens: true,
});

export const SAMPLING_PARAM_NAMES = Object.freeze(Object.keys(VLLM_DEFAULTS)) as readonly (keyof SamplingParams)[];

export const MAX_TEMPERATURE = 100;
export const MAX_LOGPROBS = 20;
export const MAX_STOP_STRINGS = 16;
export const MAX_LOGIT_BIAS = 100;
export const MAX_PENALTY = 2;
const GREEDY_TEMPERATURE = 1e-5;

export interface ValidateSamplingOptions {
  readonly vocabSize: number;
  readonly maxModelLen: number;
  /** Model defaults (generation_config.json), validated like the input. */
  readonly defaults?: SamplingParamsInput;
  /** How a field is named in error messages (e.g. snake_case for HTTP routes). Default: as is. */
  readonly fieldName?: (field: keyof SamplingParams) => string;
}

/** camelCase -> snake_case, for routes that name fields the OpenAI way. */
export function snakeCaseFieldName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

/** Validates untrusted sampling parameters and fills defaults. See the file header. */
export function validateSamplingParams(input: SamplingParamsInput | undefined, options: ValidateSamplingOptions): SamplingParams {
  const { vocabSize, maxModelLen } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw invalidArgument('vocabSize', 'an integer >= 1', vocabSize);
  if (!Number.isInteger(maxModelLen) || maxModelLen < 1) throw invalidArgument('maxModelLen', 'an integer >= 1', maxModelLen);
  const nameOf = options.fieldName ?? ((field: string) => field);
  const given = checkObject(input, 'sampling parameters', nameOf);
  const defaults = checkObject(options.defaults, 'default sampling parameters', nameOf);
  const pick = (field: keyof SamplingParams): unknown => {
    const value = given[field];
    if (value !== undefined && value !== null) return value;
    const fallback = defaults[field];
    if (fallback !== undefined && fallback !== null) return fallback;
    return undefined;
  };
  const v = new FieldReader(nameOf);

  const n = v.integer('n', pick('n'), VLLM_DEFAULTS.n, 1, Number.MAX_SAFE_INTEGER);
  let temperature = v.number('temperature', pick('temperature'), VLLM_DEFAULTS.temperature, 0, MAX_TEMPERATURE, '[0, 100]');
  let topK = v.integer('topK', pick('topK'), VLLM_DEFAULTS.topK, -1, Number.MAX_SAFE_INTEGER, 'an integer >= -1 (-1 or 0 = off)');
  let topP = v.number('topP', pick('topP'), VLLM_DEFAULTS.topP, 0, 1, '(0, 1]', { exclusiveMin: true });
  let minP = v.number('minP', pick('minP'), VLLM_DEFAULTS.minP, 0, 1, '[0, 1]');
  const repetitionPenalty = v.number('repetitionPenalty', pick('repetitionPenalty'), VLLM_DEFAULTS.repetitionPenalty, 0, Number.MAX_VALUE, '(0, inf)', { exclusiveMin: true });
  const presencePenalty = v.number('presencePenalty', pick('presencePenalty'), 0, -MAX_PENALTY, MAX_PENALTY, '[-2, 2]');
  const frequencyPenalty = v.number('frequencyPenalty', pick('frequencyPenalty'), 0, -MAX_PENALTY, MAX_PENALTY, '[-2, 2]');
  const logitBias = v.logitBias(pick('logitBias'), vocabSize);
  const seed = v.optionalInteger('seed', pick('seed'), -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a safe integer');
  const maxTokens = v.optionalInteger('maxTokens', pick('maxTokens'), 1, maxModelLen, `an integer in [1, ${maxModelLen}]`);
  const minTokens = v.integer('minTokens', pick('minTokens'), 0, 0, maxTokens ?? maxModelLen,
    maxTokens === null ? `an integer in [0, ${maxModelLen}]` : `an integer in [0, maxTokens = ${maxTokens}]`);
  const stop = v.stop(pick('stop'));
  const stopTokenIds = v.tokenIds('stopTokenIds', pick('stopTokenIds'), vocabSize);
  const ignoreEos = v.boolean('ignoreEos', pick('ignoreEos'), VLLM_DEFAULTS.ignoreEos);
  const logprobs = v.optionalInteger('logprobs', pick('logprobs'), 0, MAX_LOGPROBS, `an integer in [0, ${MAX_LOGPROBS}]`);
  const includeStopStrInOutput = v.boolean('includeStopStrInOutput', pick('includeStopStrInOutput'), VLLM_DEFAULTS.includeStopStrInOutput);
  const skipSpecialTokens = v.boolean('skipSpecialTokens', pick('skipSpecialTokens'), VLLM_DEFAULTS.skipSpecialTokens);

  if (topK < 0 || topK >= vocabSize) topK = 0;
  if (temperature < GREEDY_TEMPERATURE) {
    temperature = 0;
    topK = 0;
    topP = 1;
    minP = 0;
  }
  return {
    n, temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, logitBias, seed,
    maxTokens, minTokens, stop, stopTokenIds, ignoreEos, logprobs, includeStopStrInOutput, skipSpecialTokens,
  };
}

function checkObject(
  value: unknown,
  what: string,
  nameOf: (field: keyof SamplingParams) => string,
): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(what, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!hasOwn(VLLM_DEFAULTS, key)) {
      const known = SAMPLING_PARAM_NAMES.map(nameOf).join(', ');
      throw new KvserveError('ERR_INVALID_ARGUMENT', `${what}: unknown field "${key}" (known fields: ${known})`);
    }
  }
  return value as Record<string, unknown>;
}

/** Typed readers that throw `field: expected ..., got ...` with the caller's field naming. */
class FieldReader {
  constructor(private readonly nameOf: (field: keyof SamplingParams) => string) {}

  number(field: keyof SamplingParams, value: unknown, fallback: number, min: number, max: number, range: string,
    bounds: { exclusiveMin?: boolean } = {}): number {
    if (value === undefined) return fallback;
    const ok = typeof value === 'number' && Number.isFinite(value)
      && (bounds.exclusiveMin ? value > min : value >= min) && value <= max;
    if (!ok) throw invalidArgument(this.nameOf(field), `a number in ${range}`, value);
    return value;
  }

  integer(field: keyof SamplingParams, value: unknown, fallback: number, min: number, max: number, expected?: string): number {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw invalidArgument(this.nameOf(field), expected ?? `an integer >= ${min}`, value);
    }
    return value as number;
  }

  optionalInteger(field: keyof SamplingParams, value: unknown, min: number, max: number, expected: string): number | null {
    if (value === undefined) return null;
    return this.integer(field, value, 0, min, max, expected);
  }

  boolean(field: keyof SamplingParams, value: unknown, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw invalidArgument(this.nameOf(field), 'a boolean', value);
    return value;
  }

  stop(value: unknown): readonly string[] {
    const name = this.nameOf('stop');
    if (value === undefined) return VLLM_DEFAULTS.stop;
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list)) throw invalidArgument(name, 'a string or an array of strings', value);
    if (list.length > MAX_STOP_STRINGS) {
      throw invalidArgument(name, `at most ${MAX_STOP_STRINGS} stop strings`, `${list.length} strings`);
    }
    list.forEach((item: unknown, index) => {
      if (typeof item !== 'string' || item.length === 0) throw invalidArgument(`${name}[${index}]`, 'a non-empty string', item);
    });
    return Object.freeze([...(list as string[])]);
  }

  tokenIds(field: keyof SamplingParams, value: unknown, vocabSize: number): readonly number[] {
    const name = this.nameOf(field);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalidArgument(name, 'an array of token ids', value);
    value.forEach((item: unknown, index) => {
      if (!Number.isInteger(item) || (item as number) < 0 || (item as number) >= vocabSize) {
        throw invalidArgument(`${name}[${index}]`, `a token id in [0, ${vocabSize})`, item);
      }
    });
    return Object.freeze([...(value as number[])]);
  }

  logitBias(value: unknown, vocabSize: number): Readonly<Record<number, number>> {
    const name = this.nameOf('logitBias');
    if (value === undefined) return VLLM_DEFAULTS.logitBias;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalidArgument(name, 'an object mapping token ids to numbers', value);
    }
    const out: Record<number, number> = {};
    for (const [key, bias] of Object.entries(value)) {
      const tokenId = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : Number.NaN;
      if (!Number.isSafeInteger(tokenId) || tokenId >= vocabSize) {
        throw invalidArgument(`${name} key`, `a token id in [0, ${vocabSize})`, key);
      }
      if (typeof bias !== 'number' || !Number.isFinite(bias) || bias < -MAX_LOGIT_BIAS || bias > MAX_LOGIT_BIAS) {
        throw invalidArgument(`${name}[${key}]`, `a number in [-${MAX_LOGIT_BIAS}, ${MAX_LOGIT_BIAS}]`, bias);
      }
      out[tokenId] = bias;
    }
    return Object.freeze(out);
  }
}
