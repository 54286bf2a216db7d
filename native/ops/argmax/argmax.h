// argmax_rows: out[r] = index of the largest x[r, :], the lowest index on ties (greedy sampling;
// llama.cpp's greedy sampler keeps the first max). Semantics are exactly those of the scalar loop
//   best = 0; for i in 1..cols-1: if x[i] > x[best] then best = i
// so NaNs are never selected unless x[r, 0] is NaN (then the result is 0), and -0 ties with +0.
//   out [rows]       int32
//   x   [rows, cols] f32
// Invariant: cols >= 1 and cols < 2^31.
#pragma once
#include <cstdint>

#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void argmax_rows_cpu(int32_t* out, const float* x, int64_t rows, int64_t cols))
