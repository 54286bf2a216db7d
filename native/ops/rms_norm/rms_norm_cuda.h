// CUDA launcher of rms_norm (rms_norm_cuda.cu); what it computes and the shapes: rms_norm.h.
// Pointers are device memory; the launch is queued on `stream`.
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"

namespace kv::cuda {

void rms_norm_cuda(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps, Stream stream);

}  // namespace kv::cuda
