// CUDA launcher of kv_cache_write (kv_cache_write_cuda.cu); what it computes, the cache layout and the
// invariants: kv_cache_write.h. Device pointers.
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"
#include "core/dtype.h"

namespace kv::cuda {

void kv_cache_write_cuda(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                         const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                         int64_t block_size, Stream stream);

}  // namespace kv::cuda
