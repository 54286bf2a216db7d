// Block geometry of each kvserve DType and the byte-size arithmetic shared by every reader and
// writer. Quantized types pack `blockSize` consecutive elements of a row into `blockBytes` bytes,
// so a row's length must be a multiple of blockSize.
import { DType } from './types.js';

export interface DTypeInfo {
  dtype: DType;
  name: string;
  /** Elements per block (1 for plain float types). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
  /** Matching ggml type id in GGUF files. */
  ggmlType: number;
}

const INFOS: readonly DTypeInfo[] = [
  { dtype: DType.F32, name: 'F32', blockSize: 1, blockBytes: 4, ggmlType: 0 },
  { dtype: DType.F16, name: 'F16', blockSize: 1, blockBytes: 2, ggmlType: 1 },
  { dtype: DType.BF16, name: 'BF16', blockSize: 1, blockBytes: 2, ggmlType: 30 },
  { dtype: DType.Q8_0, name: 'Q8_0', blockSize: 32, blockBytes: 34, ggmlType: 8 },
  { dtype: DType.Q4_0, name: 'Q4_0', blockSize: 32, blockBytes: 18, ggmlType: 2 },
  { dtype: DType.Q4_K, name: 'Q4_K', blockSize: 256, blockBytes: 144, ggmlType: 12 },
  { dtype: DType.Q6_K, name: 'Q6_K', blockSize: 256, blockBytes: 210, ggmlType: 14 },
];

const BY_DTYPE = new Map<DType, DTypeInfo>(INFOS.map((info) => [info.dtype, info]));
const BY_GGML = new Map<number, DTypeInfo>(INFOS.map((info) => [info.ggmlType, info]));

export const ALL_DTYPES: readonly DType[] = INFOS.map((info) => info.dtype);

export function dtypeInfo(dtype: DType): DTypeInfo {
  const info = BY_DTYPE.get(dtype);
  if (info === undefined) throw new RangeError(`unknown DType ${String(dtype)}`);
  return info;
}

export function dtypeName(dtype: DType): string {
  return dtypeInfo(dtype).name;
}

/** The kvserve DType for a ggml type id, or undefined when kvserve has no kernels for it. */
export function dtypeFromGgmlType(ggmlType: number): DType | undefined {
  return BY_GGML.get(ggmlType)?.dtype;
}

export function isQuantized(dtype: DType): boolean {
  return dtypeInfo(dtype).blockSize > 1;
}

/**
 * Bytes of a tensor with this row-major shape (outermost first), or a string saying why the shape
 * cannot be stored in this dtype (innermost dim not a multiple of the block size, size overflow).
 */
export function tensorByteLength(dtype: DType, shape: readonly number[]): number | string {
  const info = dtypeInfo(dtype);
  const inner = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (inner % info.blockSize !== 0) {
    return `row length ${inner} is not a multiple of the ${info.name} block size ${info.blockSize}`;
  }
  let elements = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim <= 0) return `dimension ${dim} is not a positive integer`;
    elements *= dim;
    if (!Number.isSafeInteger(elements)) return 'element count overflows';
  }
  const bytes = (elements / info.blockSize) * info.blockBytes;
  if (!Number.isSafeInteger(bytes)) return 'byte size overflows';
  return bytes;
}

export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const dim of shape) n *= dim;
  return n;
}
