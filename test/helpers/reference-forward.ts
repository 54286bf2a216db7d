// A naive LLaMA-family forward pass in float64, written from the model definitions (Hugging Face's
// modeling_llama / qwen2 / qwen3 and llama.cpp's graph) and nothing else: the reference the native
// forward is tested against. Simple and obviously correct over fast; no KV cache, no batching: one
// sequence, logits for every position.
//
// Per layer: h = x + o(attn(rope(q_norm(q(n(x)))), rope(k_norm(k(n(x)))), v(n(x))))
//            x' = h + down(silu(gate(n(h))) * up(n(h)))
// with n = RMSNorm, GQA causal softmax attention scaled by 1/sqrt(headDim), optional q/k/v/o biases.
import { readTensorF32 } from '../../lib/model/read-tensor.js';
import {
  decodeBf16,
  decodeF16,
  dequantizeQ8_K,
  encodeBf16,
  encodeF16,
  f16BitsToF32,
  f32ToF16Bits,
  quantizeQ8_K,
} from '../../lib/model/quant/index.js';
import { DType, type ModelConfig, type ModelSpec, type RopeLayout } from '../../lib/model/types.js';

export interface ReferenceOptions {
  /**
   * Round each matmul's input the way ggml (and so the native kernels) do for the weight's type before
   * the dot products: to f16 for F16 weights, bf16 for BF16, Q8_0 blocks (x86 rounding) for Q8_0/Q4_0, Q8_K blocks for
   * Q4_K/Q6_K. Off: an exact float64 product with the stored weights. Default false.
   */
  mirrorMatmulInputRounding?: boolean;
  /** Use this RoPE layout instead of the model's (to show a test notices the wrong one). */
  ropeLayout?: RopeLayout;
}

interface Matrix {
  dtype: DType;
  rows: number;
  cols: number;
  values: Float32Array;
}

interface Layer {
  attnNorm: Float32Array;
  wq: Matrix;
  wk: Matrix;
  wv: Matrix;
  wo: Matrix;
  bq?: Float32Array;
  bk?: Float32Array;
  bv?: Float32Array;
  bo?: Float32Array;
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  ffnNorm: Float32Array;
  wGate: Matrix;
  wUp: Matrix;
  wDown: Matrix;
}

export class ReferenceModel {
  private constructor(
    readonly config: ModelConfig,
    private readonly embedding: Matrix,
    private readonly layers: Layer[],
    private readonly outputNorm: Float32Array,
    private readonly output: Matrix,
    /** rope_freqs.weight (GGUF llama3 scaling): rotary frequency i is divided by factor i. */
    private readonly ropeFreqFactors: Float32Array | null,
  ) {}

  /** Reads (and dequantizes) every tensor of the model once. */
  static async load(spec: ModelSpec): Promise<ReferenceModel> {
    const c = spec.config;
    const vector = (name: string): Promise<Float32Array> => readTensorF32(spec, name);
    const matrix = async (name: string): Promise<Matrix> => {
      const t = spec.tensors.find((x) => x.name === name)!;
      return { dtype: t.dtype, rows: t.shape[0]!, cols: t.shape[1]!, values: await readTensorF32(spec, name) };
    };
    const layers: Layer[] = [];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `blk.${i}.`;
      layers.push({
        attnNorm: await vector(`${p}attn_norm.weight`),
        wq: await matrix(`${p}attn_q.weight`),
        wk: await matrix(`${p}attn_k.weight`),
        wv: await matrix(`${p}attn_v.weight`),
        wo: await matrix(`${p}attn_output.weight`),
        ...(c.qkvBias
          ? { bq: await vector(`${p}attn_q.bias`), bk: await vector(`${p}attn_k.bias`), bv: await vector(`${p}attn_v.bias`) }
          : {}),
        ...(c.attnOutputBias ? { bo: await vector(`${p}attn_output.bias`) } : {}),
        ...(c.qkNorm ? { qNorm: await vector(`${p}attn_q_norm.weight`), kNorm: await vector(`${p}attn_k_norm.weight`) } : {}),
        ffnNorm: await vector(`${p}ffn_norm.weight`),
        wGate: await matrix(`${p}ffn_gate.weight`),
        wUp: await matrix(`${p}ffn_up.weight`),
        wDown: await matrix(`${p}ffn_down.weight`),
      });
    }
    const embedding = await matrix('token_embd.weight');
    const output = c.tiedEmbeddings ? embedding : await matrix('output.weight');
    const freqFactors = c.ropeFreqFactors ? await vector('rope_freqs.weight') : null;
    return new ReferenceModel(c, embedding, layers, await vector('output_norm.weight'), output, freqFactors);
  }

  /** Logits [vocabSize] of every position of `tokenIds` (positions 0, 1, ...). */
  forward(tokenIds: readonly number[], options: ReferenceOptions = {}): Float64Array[] {
    const c = this.config;
    const mirror = options.mirrorMatmulInputRounding ?? false;
    const linear = (x: Float64Array, w: Matrix, bias?: Float32Array): Float64Array =>
      matvec(mirror ? roundLikeGgml(x, w.dtype) : x, w, bias);
    const invFreq = this.inverseFrequencies();
    const layout = options.ropeLayout ?? c.ropeLayout;
    const groupSize = c.numHeads / c.numKvHeads;
    const scale = 1 / Math.sqrt(c.headDim);

    let x: Float64Array[] = tokenIds.map((id) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`token id ${id} outside [0, ${c.vocabSize})`);
      return Float64Array.from(this.embedding.values.subarray(id * c.hiddenSize, (id + 1) * c.hiddenSize));
    });
    for (const l of this.layers) {
      const qs: Float64Array[] = [];
      const ks: Float64Array[] = [];
      const vs: Float64Array[] = [];
      x.forEach((xt, pos) => {
        const h = rmsNorm(xt, l.attnNorm, c.rmsNormEps);
        const q = linear(h, l.wq, l.bq);
        const k = linear(h, l.wk, l.bk);
        for (let head = 0; head < c.numHeads; head++) {
          if (l.qNorm) normInPlace(q, head * c.headDim, c.headDim, l.qNorm, c.rmsNormEps);
          rope(q, head * c.headDim, c.ropeDim, this.ropePosition(pos), invFreq, layout);
        }
        for (let head = 0; head < c.numKvHeads; head++) {
          if (l.kNorm) normInPlace(k, head * c.headDim, c.headDim, l.kNorm, c.rmsNormEps);
          rope(k, head * c.headDim, c.ropeDim, this.ropePosition(pos), invFreq, layout);
        }
        qs.push(q);
        ks.push(k);
        vs.push(linear(h, l.wv, l.bv));
      });
      x = x.map((xt, t) => {
        // Causal GQA attention of position t over positions 0..t.
        const attn = new Float64Array(c.numHeads * c.headDim);
        for (let head = 0; head < c.numHeads; head++) {
          const qo = head * c.headDim;
          const ko = Math.floor(head / groupSize) * c.headDim;
          const scores = new Float64Array(t + 1);
          for (let s = 0; s <= t; s++) scores[s] = dot(qs[t]!, qo, ks[s]!, ko, c.headDim) * scale;
          const weights = softmax(scores);
          for (let s = 0; s <= t; s++) {
            for (let d = 0; d < c.headDim; d++) attn[qo + d]! += weights[s]! * vs[s]![ko + d]!;
          }
        }
        const h = add(xt, linear(attn, l.wo, l.bo));
        const n = rmsNorm(h, l.ffnNorm, c.rmsNormEps);
        const gate = linear(n, l.wGate);
        const up = linear(n, l.wUp);
        const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
        return add(h, linear(act, l.wDown));
      });
    }
    return x.map((xt) => linear(rmsNorm(xt, this.outputNorm, c.rmsNormEps), this.output));
  }

  /** Linear RoPE scaling divides positions by its factor. */
  private ropePosition(pos: number): number {
    const s = this.config.ropeScaling;
    return s?.type === 'linear' ? pos / s.factor : pos;
  }

  /**
   * inv_freq[i] = theta^(-2i / ropeDim), divided by rope_freqs factor i (GGUF), or rescaled as HF's
   * _compute_llama3_parameters does for rope_scaling {rope_type: "llama3"}.
   */
  private inverseFrequencies(): Float64Array {
    const c = this.config;
    const out = new Float64Array(c.ropeDim / 2);
    for (let i = 0; i < out.length; i++) {
      let f = c.ropeTheta ** (-(2 * i) / c.ropeDim);
      if (this.ropeFreqFactors) f /= this.ropeFreqFactors[i]!;
      const s = c.ropeScaling;
      if (s?.type === 'llama3') {
        const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
        const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
        const wavelen = (2 * Math.PI) / f;
        if (wavelen > lowFreqWavelen) {
          f /= s.factor;
        } else if (wavelen >= highFreqWavelen) {
          const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
          f = ((1 - smooth) * f) / s.factor + smooth * f;
        }
      }
      out[i] = f;
    }
    return out;
  }
}

/** Index of the largest value (the first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

function matvec(x: Float64Array, w: Matrix, bias?: Float32Array): Float64Array {
  if (x.length !== w.cols) throw new RangeError(`matvec: input has ${x.length} values, weight has ${w.cols} columns`);
  const out = new Float64Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    let sum = bias ? bias[r]! : 0;
    const base = r * w.cols;
    for (let k = 0; k < w.cols; k++) sum += x[k]! * w.values[base + k]!;
    out[r] = sum;
  }
  return out;
}

/** x as ggml's CPU matmul sees it for a weight of this type (see native/ops/matmul/matmul.h). */
function roundLikeGgml(x: Float64Array, dtype: DType): Float64Array {
  const f32 = Float32Array.from(x);
  switch (dtype) {
    case DType.F32:
      return x;
    case DType.F16:
      return Float64Array.from(decodeF16(encodeF16(f32), f32.length));
    case DType.BF16:
      return Float64Array.from(decodeBf16(encodeBf16(f32), f32.length));
    case DType.Q8_0:
    case DType.Q4_0:
      return roundLikeQ8_0X86(f32);
    case DType.Q4_K:
    case DType.Q6_K:
      return Float64Array.from(dequantizeQ8_K(quantizeQ8_K(f32)));
  }
}

/**
 * ggml's x86 quantize_row_q8_0 (what llama.cpp's AVX builds run, not the _ref version): per block of
 * 32, d = fp16(amax / 127), q = round-half-even(x * (127 / amax)) in f32; the value is d * q. Exact
 * ties do occur (a block's values share factors after RMSNorm), and with outlier activations one
 * tie rounded the other way moves a logit by ~0.1.
 */
function roundLikeQ8_0X86(x: Float32Array): Float64Array {
  const f = Math.fround;
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]!));
    const d = f16BitsToF32(f32ToF16Bits(f(amax / 127)));
    const id = amax !== 0 ? f(127 / amax) : 0;
    for (let j = 0; j < 32; j++) out[b + j] = d * roundHalfEven(f(x[b + j]! * id));
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves go up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  const out = Float64Array.from(x);
  normInPlace(out, 0, x.length, weight, eps);
  return out;
}

function normInPlace(x: Float64Array, offset: number, n: number, weight: Float32Array, eps: number): void {
  let sumSquares = 0;
  for (let i = 0; i < n; i++) sumSquares += x[offset + i]! ** 2;
  const inv = 1 / Math.sqrt(sumSquares / n + eps);
  for (let i = 0; i < n; i++) x[offset + i] = x[offset + i]! * inv * weight[i]!;
}

/** Rotates pairs of the first ropeDim values: adjacent (2i, 2i+1) for 'norm', (i, i + ropeDim/2) for 'neox'. */
function rope(x: Float64Array, offset: number, ropeDim: number, pos: number, invFreq: Float64Array, layout: RopeLayout): void {
  const half = ropeDim / 2;
  for (let i = 0; i < half; i++) {
    const a = offset + (layout === 'norm' ? 2 * i : i);
    const b = offset + (layout === 'norm' ? 2 * i + 1 : i + half);
    const angle = pos * invFreq[i]!;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const xa = x[a]!;
    const xb = x[b]!;
    x[a] = xa * cos - xb * sin;
    x[b] = xa * sin + xb * cos;
  }
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[ao + i]! * b[bo + i]!;
  return sum;
}

function softmax(x: Float64Array): Float64Array {
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const total = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / total);
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}
