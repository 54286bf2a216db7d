// llama3 RoPE frequency scaling as per-dimension divisors. GGUF files store exactly these factors
// as the `rope_freqs.weight` tensor (llama.cpp's convert script computes them this way), and an
// HF config's rope_scaling {rope_type: "llama3"} implies them; one function serves both paths.
import type { Llama3RopeScaling } from './types.js';

/**
 * Factor i divides the base frequency theta^(-2i/ropeDim) for i in [0, ropeDim/2): 1 for high
 * frequencies, `factor` for low ones, and a smooth interpolation in between.
 */
export function llama3RopeFreqFactors(scaling: Llama3RopeScaling, ropeTheta: number, ropeDim: number): Float32Array {
  const half = ropeDim / 2;
  const out = new Float32Array(half);
  const lowFreqWavelen = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
  const highFreqWavelen = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
  for (let i = 0; i < half; i++) {
    // Same float32 base frequency the convert script computes with torch.
    const freq = Math.fround(1 / Math.fround(ropeTheta ** Math.fround((2 * i) / ropeDim)));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) {
      out[i] = 1;
    } else if (wavelen > lowFreqWavelen) {
      out[i] = scaling.factor;
    } else {
      const smooth =
        (scaling.originalMaxPositionEmbeddings / wavelen - scaling.lowFreqFactor) /
        (scaling.highFreqFactor - scaling.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / scaling.factor + smooth);
    }
  }
  return out;
}
