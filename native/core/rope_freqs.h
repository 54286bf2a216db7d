// Rotary-embedding frequencies, computed once per model at load (not a kernel: plain baseline code).
#pragma once
#include <cstdint>
#include <vector>

namespace kv {

/** HF rope_scaling {"rope_type": "llama3", ...} (Llama 3.1+: factor 8, low 1, high 4, original 8192). */
struct Llama3Scaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_max_position_embeddings = 8192.0;
};

/**
 * inv_freq[i] = theta^(-2i/rope_dim) for i < rope_dim/2 (all in double, rounded once to float at the end),
 * divided by freq_factors[i] when given (GGUF rope_freqs tensor, llama.cpp's freq_factors); then
 * HF's llama3 scaling (transformers `_compute_llama3_parameters`) when given: with wavelen = 2*pi/f,
 * low_wavelen = original/low_freq_factor, high_wavelen = original/high_freq_factor:
 *   wavelen < high_wavelen: f;  wavelen > low_wavelen: f/factor;
 *   else smooth = (original/wavelen - low)/(high - low), f = (1-smooth)*f/factor + smooth*f.
 * A model has one of the two (the GGUF tensor is the llama3 formula precomputed), so callers pass at
 * most one. Requires rope_dim even and > 0, theta > 0, 0 < low_freq_factor < high_freq_factor.
 */
std::vector<float> rope_inv_freq(int64_t rope_dim, double theta, const float* freq_factors /* nullable, [rope_dim/2] */,
                                 const Llama3Scaling* llama3 /* nullable */);

}  // namespace kv
