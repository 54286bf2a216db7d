// Hugging Face TGI request bodies: {inputs, parameters, stream?, add_special_tokens?}.

const optional = (type: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: [type, 'null'], ...extra });

export const generateBodySchema = {
  type: 'object',
  required: ['inputs'],
  properties: {
    inputs: { type: 'string' },
    stream: { type: 'boolean' },
    add_special_tokens: { type: 'boolean' },
    parameters: {
      type: ['object', 'null'],
      properties: {
        best_of: optional('integer'),
        decoder_input_details: { type: 'boolean' },
        details: { type: 'boolean' },
        do_sample: { type: 'boolean' },
        frequency_penalty: optional('number'),
        grammar: { type: ['object', 'null'] },
        max_new_tokens: optional('integer'),
        repetition_penalty: optional('number'),
        return_full_text: optional('boolean'),
        seed: optional('integer', { minimum: 0 }),
        stop: { type: 'array', items: { type: 'string' } },
        temperature: optional('number'),
        top_k: optional('integer'),
        top_n_tokens: optional('integer', { minimum: 0 }),
        top_p: optional('number'),
        truncate: optional('integer'),
        typical_p: optional('number'),
        watermark: { type: 'boolean' },
        adapter_id: optional('string'),
      },
    },
  },
} as const;

export interface TgiParameters {
  best_of?: number | null;
  decoder_input_details?: boolean;
  details?: boolean;
  do_sample?: boolean;
  frequency_penalty?: number | null;
  grammar?: Record<string, unknown> | null;
  max_new_tokens?: number | null;
  repetition_penalty?: number | null;
  return_full_text?: boolean | null;
  seed?: number | null;
  stop?: string[];
  temperature?: number | null;
  top_k?: number | null;
  top_n_tokens?: number | null;
  top_p?: number | null;
  truncate?: number | null;
  typical_p?: number | null;
  watermark?: boolean;
  adapter_id?: string | null;
}

export interface GenerateBody {
  inputs: string;
  stream?: boolean;
  add_special_tokens?: boolean;
  parameters?: TgiParameters | null;
}
