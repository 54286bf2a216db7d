// rms_norm: out[r, i] = (x[r, i] * (1 / sqrt(mean_i(x[r, :]^2) + eps))) * weight[i]
// Sum of squares is accumulated in double, as ggml does, so outputs match llama.cpp to float rounding.
//   out    [rows, dim] f32 (may alias x)
//   x      [rows, dim] f32
//   weight [dim]       f32
// Also used for Qwen3's per-head q/k norm (rows = tokens * heads, dim = head_dim).
#pragma once
#include <cstdint>

#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void rms_norm_cpu(float* out, const float* x, const float* weight, int64_t rows,
                                        int64_t dim, float eps))
