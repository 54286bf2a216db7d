// CUDA launcher of embedding (embedding_cuda.cu); what it computes and the shapes: embedding.h.
// Device pointers; ids must be in [0, vocab) (validated by the caller, as for the CPU kernel).
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"
#include "core/dtype.h"

namespace kv::cuda {

void embedding_cuda(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n, Stream stream);

}  // namespace kv::cuda
