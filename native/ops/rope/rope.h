// rope: rotary position embedding of q or k, in place.
// For token t, head h and pair i < rope_dim/2, with angle = (float(positions[t]) * position_scale) *
// inv_freq[i] (float products) and c = cosf(angle), s = sinf(angle):
//   (x0, x1) <- (x0*c - x1*s, x0*s + x1*c)
// where the pair is (x[2i], x[2i+1]) for layout kRopeNorm (GGUF llama / ggml mode 0) and
// (x[i], x[i + rope_dim/2]) for layout kRopeNeox (HF rotate_half / ggml NEOX). Elements at
// index >= rope_dim (partial rotary) are left untouched.
//   x         [n_tokens, n_heads, head_dim] f32, rotated in place
//   positions [n_tokens] int32 (|position * position_scale| < 2^24 keeps the angle meaningful)
//   inv_freq  [rope_dim/2] f32 from rope_inv_freq() (core/rope_freqs.h): base^(-2i/rope_dim), with
//             freq factors / llama3 scaling already applied
// Invariants: rope_dim even, 0 <= rope_dim <= head_dim; layout is kRopeNorm or kRopeNeox.
#pragma once
#include <cstdint>

#include "core/isa.h"

namespace kv {
constexpr int32_t kRopeNorm = 0;
constexpr int32_t kRopeNeox = 1;
}  // namespace kv

KV_DECLARE_CPU_KERNEL(void rope_cpu(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
                                    const int32_t* positions, const float* inv_freq, float position_scale,
                                    int32_t layout))
