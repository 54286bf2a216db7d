// KServe v2 / Open Inference Protocol and Triton generate-extension request bodies.

export const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
export type Datatype = (typeof DATATYPES)[number];

export const inferBodySchema = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: { type: 'object' },
    inputs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype', 'data'],
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
          datatype: { enum: DATATYPES },
          parameters: { type: 'object' },
          data: { type: 'array' },
        },
      },
    },
    outputs: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object' } } },
    },
  },
} as const;

/** Generate bodies are open-ended (extra keys are model inputs); routes read the keys they know. */
export const generateBodySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    text_input: { type: 'string' },
    prompt: { type: 'string' },
    PROMPT: { type: 'string' },
    parameters: { type: 'object' },
    sampling_parameters: { description: 'a JSON string or an object', anyOf: [{ type: 'string' }, { type: 'object' }] },
  },
} as const;

export interface InferInput {
  name: string;
  shape: number[];
  datatype: Datatype;
  parameters?: Record<string, unknown>;
  data: unknown[];
}

export interface InferBody {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInput[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

export type GenerateBody = Record<string, unknown> & {
  id?: string;
  text_input?: string;
  prompt?: string;
  PROMPT?: string;
  parameters?: Record<string, unknown>;
  sampling_parameters?: string | Record<string, unknown>;
};
