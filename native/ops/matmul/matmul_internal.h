// Internal interface between the matmul kernel files (matmul_cpu.cc: entry point and activation
// preparation; matmul_float_cpu.cc, matmul_q8_cpu.cc, matmul_kquant_cpu.cc: one weight-type family each).
// Baseline code only: this header is included before core/isa_begin.h.
#pragma once
#include <cstdint>

#include "core/isa.h"
#include "core/thread_pool.h"
#include "core/weight.h"

namespace kv {

// The activations of one call after conversion (see matmul.h for the rounding rules).
struct MatmulActs {
  int64_t m = 0;                    // rows of x
  int64_t k = 0;                    // columns of x (= weight cols)
  const float* f = nullptr;         // F32/F16/BF16 weights: [m, k] f32, already rounded to f16/bf16 values
  const int8_t* qs = nullptr;       // quantized weights: [m, k] int8 quants (Q8_0 or Q8_K blocks, row-major);
                                    // the avx512 variant keeps Q8_0 quants as uint8 q + 128 (for vpdpbusd)
  const float* d = nullptr;         // [m, k / block] block scales (Q8_0: the fp16-rounded value)
  const int16_t* bsums = nullptr;   // Q8_K only: [m, k / 16] sums of each 16 quants
  const int32_t* corr = nullptr;    // packed Q8_0/Q4_0 weights: [m, k / 32] offset * sum of the block's quants
                                    // (offset 128 for Q8_0, 8 for Q4_0); qs then holds signed quants.
                                    // packed Q4_K: [m, k / 256, 4] int16 pairs (s_2i, s_2i+1) of the
                                    // 32-element sums s_j = bsum_2j + bsum_2j+1
};

}  // namespace kv

// Rows [r0, r1) of the output for all m rows of x:  out[i * w.rows + r] = dot(x_i, W_r) (+ bias[r]).
KV_DECLARE_CPU_KERNEL(void matmul_float_rows(float* out, const MatmulActs& a, const WeightView& w,
                                             const float* bias, int64_t r0, int64_t r1))  // F32 F16 BF16
KV_DECLARE_CPU_KERNEL(void matmul_q8_0_rows(float* out, const MatmulActs& a, const WeightView& w,
                                            const float* bias, int64_t r0, int64_t r1))   // Q8_0 Q4_0
// Packed Q8_0 / Q4_0 weights (matmul_packed_q_cpu.cc): row groups [g0, g1) of 16 rows.
KV_DECLARE_CPU_KERNEL(int64_t matmul_packed_q_bytes(const WeightView& w))
KV_DECLARE_CPU_KERNEL(void matmul_pack_q(uint8_t* dst, const WeightView& w, ThreadPool& pool))
KV_DECLARE_CPU_KERNEL(void matmul_packed_q_rows(float* out, const MatmulActs& a, const WeightView& w,
                                                const float* bias, int64_t g0, int64_t g1))
// Packed Q4_K / Q6_K weights (matmul_packed_k_cpu.cc): row groups [g0, g1) of 16 rows.
KV_DECLARE_CPU_KERNEL(int64_t matmul_packed_k_bytes(const WeightView& w))
KV_DECLARE_CPU_KERNEL(void matmul_pack_k(uint8_t* dst, const WeightView& w, ThreadPool& pool))
KV_DECLARE_CPU_KERNEL(void matmul_packed_k_rows(float* out, const MatmulActs& a, const WeightView& w,
                                                const float* bias, int64_t g0, int64_t g1))
// Packed F32 / F16 / BF16 weights (matmul_packed_f_cpu.cc): row panels [p0, p1) of 64 rows.
KV_DECLARE_CPU_KERNEL(int64_t matmul_packed_f_bytes(const WeightView& w))
KV_DECLARE_CPU_KERNEL(void matmul_pack_f(uint8_t* dst, const WeightView& w, ThreadPool& pool))
KV_DECLARE_CPU_KERNEL(void matmul_packed_f_rows(float* out, const MatmulActs& a, const WeightView& w,
                                                const float* bias, int64_t p0, int64_t p1))
KV_DECLARE_CPU_KERNEL(void matmul_kquant_rows(float* out, const MatmulActs& a, const WeightView& w,
                                              const float* bias, int64_t r0, int64_t r1)) // Q4_K Q6_K
