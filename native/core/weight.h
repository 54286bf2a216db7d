// A read-only 2-D weight matrix [rows, cols] of any DType, rows contiguous (usually memory-mapped).
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace kv {

struct WeightView {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;  // output features (N)
  int64_t cols = 0;  // input features (K); a multiple of the dtype's block size
  // A copy of the weights in the layout of the kernel variant's packed matmul (matmul.h, "Packed
  // weights"), made at load; nullptr = the kernels read `data`. Only that variant may be given it.
  const uint8_t* packed = nullptr;
  int64_t row_bytes() const { return dtype_row_bytes(dtype, cols); }
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * row_bytes(); }
};

}  // namespace kv
