// Argument helpers shared by the op bindings that take a weight DType (dequantizeRow, embedding).
#pragma once
#include <napi.h>

#include <string>

#include "core/dtype.h"
#include "napi_util.h"

namespace kv::napi {

/** DType argument (a value of the DType enum, lib/model/types.ts). */
inline DType dtype_arg(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<DType>(int_arg(info, index, "dtype", 0, 6));
}

/** Throws a RangeError unless `n` elements of `dtype` fill whole blocks. */
inline void check_whole_blocks(Napi::Env env, const char* name, int64_t n, DType dtype) {
  const int64_t block = dtype_block_elems(dtype);
  if (n % block != 0) {
    throw Napi::RangeError::New(env, std::string(name) + ": expected a multiple of " + std::to_string(block) + " for " +
                                         dtype_name(dtype) + ", got " + std::to_string(n));
  }
}

}  // namespace kv::napi
