// Argument checks shared by the KV-cache op bindings (kvCacheWrite, pagedAttention): the KV dtype and
// the cache buffers ([num_blocks, n_kv_heads, block_size, head_dim], see ops/kv_cache_write/kv_cache_write.h).
#pragma once
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"
#include "napi_util.h"

namespace kv::napi {

/** Product of non-negative factors; throws a RangeError naming `what` past 2^50 (no int64 overflow). */
inline int64_t checked_product(Napi::Env env, const char* what, std::initializer_list<int64_t> factors) {
  constexpr int64_t kLimit = int64_t(1) << 50;
  int64_t r = 1;
  for (int64_t f : factors) {
    if (f != 0 && r > kLimit / f) throw Napi::RangeError::New(env, std::string(what) + ": size exceeds 2^50 elements");
    r *= f;
  }
  return r;
}

/** kvDtype argument: DType F32 (0), F16 (1) or BF16 (2). */
inline DType kv_dtype_arg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) throw TypeError(env, "kvDtype: expected a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v == 0 || v == 1 || v == 2)) {
    throw Napi::RangeError::New(env, "kvDtype: expected 0 (F32), 1 (F16) or 2 (BF16), got " + std::to_string(v));
  }
  return static_cast<DType>(static_cast<int32_t>(v));
}

/**
 * A K or V cache argument: a Uint8Array of at least num_blocks * n_kv_heads * block_size * head_dim
 * elements of `dtype`, whose data is aligned to the element size (the kernels read whole elements).
 */
inline uint8_t* kv_cache_arg(const Napi::CallbackInfo& info, size_t index, const char* name, DType dtype,
                             int64_t num_blocks, int64_t n_kv_heads, int64_t block_size, int64_t head_dim) {
  Napi::Env env = info.Env();
  const int64_t elem = dtype_block_bytes(dtype);
  const int64_t bytes = checked_product(env, name, {num_blocks, n_kv_heads, block_size, head_dim, elem});
  uint8_t* data = typed_array<uint8_t>(info, index, name, static_cast<size_t>(bytes));
  if (reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(elem) != 0) {
    throw Napi::RangeError::New(env, std::string(name) + ": data must be aligned to " + std::to_string(elem) +
                                         " bytes for " + dtype_name(dtype) + " (byteOffset is not a multiple)");
  }
  return data;
}

}  // namespace kv::napi
