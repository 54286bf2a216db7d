// Naive references for rope and its frequencies, in double precision except where the kernel's
// contract fixes float rounding: the angle is the float product (float(pos * scale) * inv_freq).

export interface Llama3Params {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export function ropeRef(
  x: Float32Array, nTokens: number, nHeads: number, headDim: number, ropeDim: number,
  positions: Int32Array, invFreq: Float32Array, positionScale: number, layout: 0 | 1,
): Float32Array {
  const out = Float32Array.from(x);
  const half = ropeDim / 2;
  for (let t = 0; t < nTokens; t++) {
    const p = Math.fround((positions[t] as number) * Math.fround(positionScale));
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(p * (invFreq[i] as number));
        const c = Math.cos(angle), s = Math.sin(angle);
        const i0 = layout === 0 ? base + 2 * i : base + i;
        const i1 = layout === 0 ? base + 2 * i + 1 : base + i + half;
        const x0 = x[i0] as number, x1 = x[i1] as number;
        out[i0] = x0 * c - x1 * s;
        out[i1] = x0 * s + x1 * c;
      }
    }
  }
  return out;
}

/** Default RoPE frequencies (HF `_compute_default_rope_parameters`): theta^(-2i/dim). */
export function ropeInvFreqRef(ropeDim: number, theta: number): Float64Array {
  const out = new Float64Array(ropeDim / 2);
  for (let i = 0; i < ropeDim / 2; i++) out[i] = 1 / theta ** ((2 * i) / ropeDim);
  return out;
}

/** HF transformers `_compute_llama3_parameters`, transcribed with torch.where as explicit branches. */
export function llama3InvFreqRef(ropeDim: number, theta: number, p: Llama3Params): Float64Array {
  const invFreq = ropeInvFreqRef(ropeDim, theta);
  const lowFreqWavelen = p.originalMaxPositionEmbeddings / p.lowFreqFactor;
  const highFreqWavelen = p.originalMaxPositionEmbeddings / p.highFreqFactor;
  return invFreq.map((freq) => {
    const wavelen = (2 * Math.PI) / freq;
    const llama = wavelen > lowFreqWavelen ? freq / p.factor : freq;
    const smooth = (p.originalMaxPositionEmbeddings / wavelen - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor);
    const smoothed = ((1 - smooth) * llama) / p.factor + smooth * llama;
    const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    return isMedium ? smoothed : llama;
  });
}

/**
 * The GGUF `rope_freqs` tensor llama.cpp's converter writes for llama3 models (one divisor per
 * frequency), so inv_freq / factor must equal the llama3 formula.
 */
export function llama3FreqFactorsRef(ropeDim: number, theta: number, p: Llama3Params): Float32Array {
  const lowFreqWavelen = p.originalMaxPositionEmbeddings / p.lowFreqFactor;
  const highFreqWavelen = p.originalMaxPositionEmbeddings / p.highFreqFactor;
  return Float32Array.from(ropeInvFreqRef(ropeDim, theta), (freq) => {
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) return 1;
    if (wavelen > lowFreqWavelen) return p.factor;
    const smooth = (p.originalMaxPositionEmbeddings / wavelen - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor);
    return 1 / ((1 - smooth) / p.factor + smooth);
  });
}
