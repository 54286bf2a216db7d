// Naive reference for embedding: each output row is the dequantized table row of its id.
import type { DType } from '../../../lib/model/types.js';
import { dequantizeRowRef, rowBytes } from './dequantize.js';

export function embeddingRef(table: Uint8Array, dtype: DType, dim: number, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * dim);
  const rb = rowBytes(dtype, dim);
  ids.forEach((id, i) => out.set(dequantizeRowRef(table.subarray(id * rb, (id + 1) * rb), dtype, dim), i * dim));
  return out;
}
