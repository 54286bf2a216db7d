// GGUF on-disk constants: the magic, metadata value types and ggml tensor types with their block
// geometry (from the GGUF spec / gguf-py GGML_QUANT_SIZES). Knowing the geometry of types kvserve
// cannot run lets the reader still validate and list such files; the spec builder rejects them.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian uint32
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_SUPPORTED_VERSIONS: readonly number[] = [2, 3];
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Byte size of fixed-size value types; STRING and ARRAY are variable. */
export const GGUF_SCALAR_SIZE: Readonly<Record<number, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

export function ggufValueTypeName(type: number): string {
  return GgufValueType[type] ?? `unknown(${type})`;
}

export interface GgmlTypeInfo {
  id: number;
  name: string;
  blockSize: number;
  blockBytes: number;
}

const QK_K = 256;

/** Every ggml type id that can appear in a GGUF file today (ids 4, 5, 31-33, 36-38 were removed). */
export const GGML_TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, blockBytes: 4 },
  { id: 1, name: 'F16', blockSize: 1, blockBytes: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, blockBytes: 18 },
  { id: 3, name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, blockBytes: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, blockBytes: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, blockBytes: 34 },
  { id: 9, name: 'Q8_1', blockSize: 32, blockBytes: 36 },
  { id: 10, name: 'Q2_K', blockSize: QK_K, blockBytes: 84 },
  { id: 11, name: 'Q3_K', blockSize: QK_K, blockBytes: 110 },
  { id: 12, name: 'Q4_K', blockSize: QK_K, blockBytes: 144 },
  { id: 13, name: 'Q5_K', blockSize: QK_K, blockBytes: 176 },
  { id: 14, name: 'Q6_K', blockSize: QK_K, blockBytes: 210 },
  { id: 15, name: 'Q8_K', blockSize: QK_K, blockBytes: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: QK_K, blockBytes: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: QK_K, blockBytes: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: QK_K, blockBytes: 98 },
  { id: 19, name: 'IQ1_S', blockSize: QK_K, blockBytes: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, blockBytes: 18 },
  { id: 21, name: 'IQ3_S', blockSize: QK_K, blockBytes: 110 },
  { id: 22, name: 'IQ2_S', blockSize: QK_K, blockBytes: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: QK_K, blockBytes: 136 },
  { id: 24, name: 'I8', blockSize: 1, blockBytes: 1 },
  { id: 25, name: 'I16', blockSize: 1, blockBytes: 2 },
  { id: 26, name: 'I32', blockSize: 1, blockBytes: 4 },
  { id: 27, name: 'I64', blockSize: 1, blockBytes: 8 },
  { id: 28, name: 'F64', blockSize: 1, blockBytes: 8 },
  { id: 29, name: 'IQ1_M', blockSize: QK_K, blockBytes: 56 },
  { id: 30, name: 'BF16', blockSize: 1, blockBytes: 2 },
  { id: 34, name: 'TQ1_0', blockSize: QK_K, blockBytes: 54 },
  { id: 35, name: 'TQ2_0', blockSize: QK_K, blockBytes: 66 },
  { id: 39, name: 'MXFP4', blockSize: 32, blockBytes: 17 },
];

const BY_ID = new Map<number, GgmlTypeInfo>(GGML_TYPES.map((t) => [t.id, t]));

export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeName(id: number): string {
  return BY_ID.get(id)?.name ?? `unknown type ${id}`;
}

/** GGUF metadata keys for sampling defaults (written by recent convert_hf_to_gguf.py). */
export const GGUF_SAMPLING_KEYS = {
  temperature: 'general.sampling.temp',
  topK: 'general.sampling.top_k',
  topP: 'general.sampling.top_p',
  minP: 'general.sampling.min_p',
  repetitionPenalty: 'general.sampling.penalty_repeat',
} as const;
