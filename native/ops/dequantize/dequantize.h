// dequantize: one row of a weight matrix of any DType -> f32, with ggml's exact formulas, so a
// dequantized weight equals what llama.cpp computes bit for bit (f16 scales convert exactly, every
// product is exact in float; only Q4_K's subtraction rounds):
//   F32   y = x                       F16/BF16  y = (float)x  (F16C may quiet a signaling NaN)
//   Q8_0  y = d * q                   Q4_0      y = d * (nibble - 8)
//   Q4_K  y = (d * sc) * nibble - (dmin * m)   (6-bit sc, m per 32; ggml get_scale_min_k4 packing)
//   Q6_K  y = (d * sc) * (q6 - 32)             (int8 sc per 16)
//   out [n]                       f32
//   row [dtype_row_bytes(dtype, n)] bytes of `dtype`; no alignment required
// n must be a multiple of dtype_block_elems(dtype) (callers check; the binding validates).
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void dequantize_row_cpu(float* out, const void* row, kv::DType dtype, int64_t n))
