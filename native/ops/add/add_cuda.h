// CUDA launcher of add (add_cuda.cu); what it computes: add.h. Device pointers.
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"

namespace kv::cuda {

/** out[i] = a[i] + b[i] (out may alias a or b). */
void add_cuda(float* out, const float* a, const float* b, int64_t n, Stream stream);

}  // namespace kv::cuda
