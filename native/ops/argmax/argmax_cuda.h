// CUDA launcher of argmax_rows (argmax_cuda.cu); the semantics (first maximum, NaN rules): argmax.h.
#pragma once
#include <cstdint>

#include "core/cuda/stream.h"

namespace kv::cuda {

void argmax_rows_cuda(int32_t* out, const float* x, int64_t rows, int64_t cols, Stream stream);

}  // namespace kv::cuda
