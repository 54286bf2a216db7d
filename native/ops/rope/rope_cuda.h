// CUDA launcher of rope (rope_cuda.cu); what it computes and the shapes: rope.h. Device pointers.
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"

namespace kv::cuda {

void rope_cuda(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const int32_t* positions,
               const float* inv_freq, float position_scale, int32_t layout, Stream stream);

}  // namespace kv::cuda
