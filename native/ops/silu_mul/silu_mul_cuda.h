// CUDA launcher of silu_mul (silu_mul_cuda.cu); what it computes: silu_mul.h. Device pointers.
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"

namespace kv::cuda {

void silu_mul_cuda(float* out, const float* gate, const float* up, int64_t n, Stream stream);

}  // namespace kv::cuda
