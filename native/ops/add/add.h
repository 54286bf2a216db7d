// add: element-wise sums of the forward pass.
// add_cpu: out[i] = a[i] + b[i] (the residual connection)
//   out [n] f32 (may alias a or b)
//   a   [n] f32
//   b   [n] f32
// add_bias_cpu: x[r, c] += bias[c] (Qwen2's q/k/v projection biases)
//   x    [rows, cols] f32, in place
//   bias [cols]       f32
// One IEEE float add per element on every variant: all variants are bit-identical.
#pragma once
#include <cstdint>

#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void add_cpu(float* out, const float* a, const float* b, int64_t n))
KV_DECLARE_CPU_KERNEL(void add_bias_cpu(float* x, const float* bias, int64_t rows, int64_t cols))
