// Request bodies of the OpenAI-compatible routes (vLLM's flavour: OpenAI fields plus vLLM's sampling
// extras). JSON schemas for fastify's validator, and the matching TypeScript shapes.

const nullable = (schema: Record<string, unknown>): Record<string, unknown> => {
  const type = schema.type;
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] };
  if (Array.isArray(type)) return { ...schema, type: [...type, 'null'] };
  return { ...schema, anyOf: [...((schema.anyOf as unknown[]) ?? []), { type: 'null' }] };
};

const int = (min?: number, max?: number): Record<string, unknown> =>
  nullable({ type: 'integer', ...(min !== undefined ? { minimum: min } : {}), ...(max !== undefined ? { maximum: max } : {}) });
const num = (extra: Record<string, unknown> = {}): Record<string, unknown> => nullable({ type: 'number', ...extra });
const bool = nullable({ type: 'boolean' });
const str = nullable({ type: 'string' });

/** Maximum number of alternatives per token (vLLM's default max_logprobs). */
export const MAX_LOGPROBS = 20;
export const MAX_N = 128;

const stop = {
  description: 'a string or an array of strings',
  anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 64 }, { type: 'null' }],
};

/** Sampling fields shared by /v1/completions and /v1/chat/completions. */
const samplingProperties = {
  model: str,
  n: int(1, MAX_N),
  temperature: num({ minimum: 0 }),
  top_p: num({ exclusiveMinimum: 0, maximum: 1 }),
  top_k: int(-1),
  min_p: num({ minimum: 0, maximum: 1 }),
  repetition_penalty: num({ exclusiveMinimum: 0 }),
  presence_penalty: num({ minimum: -2, maximum: 2 }),
  frequency_penalty: num({ minimum: -2, maximum: 2 }),
  logit_bias: nullable({ type: 'object', additionalProperties: { type: 'number', minimum: -100, maximum: 100 } }),
  seed: int(),
  max_tokens: int(1),
  min_tokens: int(0),
  stop,
  stop_token_ids: nullable({ type: 'array', items: { type: 'integer', minimum: 0 } }),
  ignore_eos: bool,
  skip_special_tokens: bool,
  include_stop_str_in_output: bool,
  stream: bool,
  stream_options: nullable({
    type: 'object',
    properties: { include_usage: bool, continuous_usage_stats: bool },
  }),
  user: str,
  priority: int(),
  request_id: str,
  cache_salt: str,
  add_special_tokens: bool,
  use_beam_search: bool,
  best_of: int(1),
  response_format: nullable({ type: 'object', properties: { type: { type: 'string' } }, required: ['type'] }),
} as const;

export const completionBodySchema = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...samplingProperties,
    prompt: {
      description: 'a string, an array of strings, an array of token ids or an array of arrays of token ids',
      anyOf: [
        { type: 'string' },
        { type: 'array', minItems: 1, items: { type: 'string' } },
        { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
        { type: 'array', minItems: 1, items: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } } },
      ],
    },
    echo: bool,
    logprobs: int(0, MAX_LOGPROBS),
    suffix: str,
    prompt_logprobs: int(0),
  },
} as const;

const contentPart = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string' }, text: { type: 'string' } },
};

export const chatBodySchema = {
  type: 'object',
  required: ['messages'],
  properties: {
    ...samplingProperties,
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string' },
          content: {
            description: 'a string or an array of content parts',
            anyOf: [{ type: 'string' }, { type: 'array', items: contentPart }, { type: 'null' }],
          },
          name: { type: 'string' },
        },
      },
    },
    logprobs: bool,
    top_logprobs: int(0, MAX_LOGPROBS),
    max_completion_tokens: int(1),
    add_generation_prompt: bool,
    continue_final_message: bool,
    echo: bool,
    tools: nullable({ type: 'array' }),
    tool_choice: { description: 'a string or an object', anyOf: [{ type: 'string' }, { type: 'object' }, { type: 'null' }] },
    chat_template: str,
    prompt_logprobs: int(0),
  },
} as const;

export const tokenizeBodySchema = {
  type: 'object',
  properties: {
    model: str,
    prompt: { type: 'string' },
    messages: chatBodySchema.properties.messages,
    add_special_tokens: bool,
    add_generation_prompt: bool,
    continue_final_message: bool,
    return_token_strs: bool,
  },
} as const;

export const detokenizeBodySchema = {
  type: 'object',
  required: ['tokens'],
  properties: {
    model: str,
    tokens: { type: 'array', items: { type: 'integer', minimum: 0 } },
  },
} as const;

export interface SamplingFields {
  model?: string | null;
  n?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  seed?: number | null;
  max_tokens?: number | null;
  min_tokens?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  ignore_eos?: boolean | null;
  skip_special_tokens?: boolean | null;
  include_stop_str_in_output?: boolean | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null; continuous_usage_stats?: boolean | null } | null;
  user?: string | null;
  priority?: number | null;
  request_id?: string | null;
  cache_salt?: string | null;
  add_special_tokens?: boolean | null;
  use_beam_search?: boolean | null;
  best_of?: number | null;
  response_format?: { type: string } | null;
  prompt_logprobs?: number | null;
}

export interface CompletionBody extends SamplingFields {
  prompt: string | string[] | number[] | number[][];
  echo?: boolean | null;
  logprobs?: number | null;
  suffix?: string | null;
}

export interface ChatContentPart {
  type: string;
  text?: string;
}

export interface ChatMessageBody {
  role: string;
  content?: string | ChatContentPart[] | null;
  name?: string;
}

export interface ChatBody extends SamplingFields {
  messages: ChatMessageBody[];
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  max_completion_tokens?: number | null;
  add_generation_prompt?: boolean | null;
  continue_final_message?: boolean | null;
  echo?: boolean | null;
  tools?: unknown[] | null;
  tool_choice?: unknown;
  chat_template?: string | null;
}

export interface TokenizeBody {
  model?: string | null;
  prompt?: string;
  messages?: ChatMessageBody[];
  add_special_tokens?: boolean | null;
  add_generation_prompt?: boolean | null;
  continue_final_message?: boolean | null;
  return_token_strs?: boolean | null;
}

export interface DetokenizeBody {
  model?: string | null;
  tokens: number[];
}
