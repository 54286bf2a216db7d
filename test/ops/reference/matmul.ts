// Naive reference for matmul: out[i, r] = sum_k x[i, k] * W[r, k] (+ bias[r]).
// matmulRef mirrors llama.cpp's CPU numerics: the activations are first rounded (f16 / bf16) or
// quantized (Q8_0 / Q8_K) exactly as ggml does for the weight type, then the products of the exact
// dequantized values are summed in double. matmulPlainRef skips the activation rounding, to show
// that the quantization error itself is sane.
import { DType } from '../../../lib/model/types.js';
import {
  bf16BitsToF32,
  bf16Round,
  dequantQ4_0,
  dequantQ4_K,
  dequantQ6_K,
  dequantQ8_0,
  f16BitsToF32,
  f16Round,
  f32ToBf16Bits,
  f32ToF16Bits,
  quantizeQ8_0,
  quantizeQ8_K,
  QK8_0,
  QK_K,
  randomQuantRows,
} from './quant-blocks.js';

export function blockElems(dtype: DType): number {
  if (dtype === DType.Q8_0 || dtype === DType.Q4_0) return QK8_0;
  if (dtype === DType.Q4_K || dtype === DType.Q6_K) return QK_K;
  return 1;
}

export function rowBytes(dtype: DType, k: number): number {
  const per: Record<DType, number> = {
    [DType.F32]: 4, [DType.F16]: 2, [DType.BF16]: 2, [DType.Q8_0]: 34, [DType.Q4_0]: 18, [DType.Q4_K]: 144, [DType.Q6_K]: 210,
  };
  return (k / blockElems(dtype)) * per[dtype];
}

/** The weight matrix [n, k] as exact doubles. */
export function dequantizeWeights(dtype: DType, w: Uint8Array, n: number, k: number): Float64Array {
  const out = new Float64Array(n * k);
  const view = new DataView(w.buffer, w.byteOffset, w.byteLength);
  const nb = k / blockElems(dtype);
  for (let r = 0; r < n; r++) {
    const off = r * rowBytes(dtype, k);
    const row = out.subarray(r * k, (r + 1) * k);
    switch (dtype) {
      case DType.F32:
        for (let i = 0; i < k; i++) row[i] = view.getFloat32(off + 4 * i, true);
        break;
      case DType.F16:
        for (let i = 0; i < k; i++) row[i] = f16BitsToF32(view.getUint16(off + 2 * i, true));
        break;
      case DType.BF16:
        for (let i = 0; i < k; i++) row[i] = bf16BitsToF32(view.getUint16(off + 2 * i, true));
        break;
      case DType.Q8_0: dequantQ8_0(w, off, nb, row); break;
      case DType.Q4_0: dequantQ4_0(w, off, nb, row); break;
      case DType.Q4_K: dequantQ4_K(w, off, nb, row); break;
      case DType.Q6_K: dequantQ6_K(w, off, nb, row); break;
    }
  }
  return out;
}

/** x [m, k] as the values ggml multiplies with weights of `dtype` (rounded or quantized-dequantized). */
export function activationsAsGgml(dtype: DType, x: Float32Array, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  if (dtype === DType.F32) {
    out.set(x);
  } else if (dtype === DType.F16 || dtype === DType.BF16) {
    const round = dtype === DType.F16 ? f16Round : bf16Round;
    for (let i = 0; i < m * k; i++) out[i] = round(x[i] as number);
  } else {
    const block = blockElems(dtype);
    const { q, d } = block === QK8_0 ? quantizeQ8_0(x) : quantizeQ8_K(x);
    for (let i = 0; i < m * k; i++) out[i] = (d[Math.floor(i / block)] as number) * (q[i] as number);
  }
  return out;
}

function product(w: Float64Array, a: Float64Array, n: number, k: number, m: number, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += (w[r * k + t] as number) * (a[i * k + t] as number);
      out[i * n + r] = bias ? Math.fround(s) + (bias[r] as number) : s;
    }
  }
  return out;
}

/** llama.cpp-equivalent result (activation rounding as ggml), summed in double. */
export function matmulRef(dtype: DType, w: Uint8Array, n: number, k: number, x: Float32Array, m: number, bias: Float32Array | null,
  wDeq: Float64Array = dequantizeWeights(dtype, w, n, k)): Float32Array {
  return product(wDeq, activationsAsGgml(dtype, x, m, k), n, k, m, bias);
}

/** Exact weights times the unrounded activations: the ideal result the quantized one approximates. */
export function matmulPlainRef(dtype: DType, w: Uint8Array, n: number, k: number, x: Float32Array, m: number, bias: Float32Array | null,
  wDeq: Float64Array = dequantizeWeights(dtype, w, n, k)): Float32Array {
  return product(wDeq, Float64Array.from(x), n, k, m, bias);
}

/** Random valid weights [n, k] of any type: floats uniform in [-1, 1), or random quants (quant-blocks.ts). */
export function randomWeights(dtype: DType, n: number, k: number, random: () => number): Uint8Array {
  const floats = (): Float32Array => Float32Array.from({ length: n * k }, () => random() * 2 - 1);
  switch (dtype) {
    case DType.F32:
      return new Uint8Array(floats().buffer);
    case DType.F16:
    case DType.BF16:
      return new Uint8Array(Uint16Array.from(floats(), dtype === DType.F16 ? f32ToF16Bits : f32ToBf16Bits).buffer);
    case DType.Q8_0: return randomQuantRows('q8_0', n, k, random);
    case DType.Q4_0: return randomQuantRows('q4_0', n, k, random);
    case DType.Q4_K: return randomQuantRows('q4_K', n, k, random);
    case DType.Q6_K: return randomQuantRows('q6_K', n, k, random);
  }
}
