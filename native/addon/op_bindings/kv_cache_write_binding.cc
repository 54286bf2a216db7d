#include <string>

#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/kv_cache_args.h"
#include "op_bindings/op_bindings.h"
#include "ops/kv_cache_write/kv_cache_write.h"

namespace kv::napi {

namespace {

// kvCacheWrite(isa, kCache, vCache, kvDtype, numBlocks, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize)
Napi::Value KvCacheWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const DType dtype = kv_dtype_arg(info, 3);
  const int64_t num_blocks = int_arg(info, 4, "numBlocks", 0, INT32_MAX);
  const int64_t n_tokens = int_arg(info, 8, "nTokens", 0, INT32_MAX);
  const int64_t n_kv_heads = int_arg(info, 9, "nKvHeads", 1, 4096);
  const int64_t head_dim = int_arg(info, 10, "headDim", 1, 4096);
  const int64_t block_size = int_arg(info, 11, "blockSize", 1, 65536);
  uint8_t* k_cache = kv_cache_arg(info, 1, "kCache", dtype, num_blocks, n_kv_heads, block_size, head_dim);
  uint8_t* v_cache = kv_cache_arg(info, 2, "vCache", dtype, num_blocks, n_kv_heads, block_size, head_dim);
  const int64_t rows = checked_product(env, "k", {n_tokens, n_kv_heads, head_dim});
  const float* k = typed_array<float>(info, 5, "k", static_cast<size_t>(rows));
  const float* v = typed_array<float>(info, 6, "v", static_cast<size_t>(rows));
  const int32_t* slots = typed_array<int32_t>(info, 7, "slotMapping", static_cast<size_t>(n_tokens));
  const int64_t num_slots = num_blocks * block_size;
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (slots[t] < -1 || slots[t] >= num_slots) {
      throw Napi::RangeError::New(env, "slotMapping[" + std::to_string(t) + "]: expected -1 (skip) or a slot in [0, " +
                                           std::to_string(num_slots) + ") (numBlocks * blockSize), got " +
                                           std::to_string(slots[t]));
    }
  }
  KV_CPU_DISPATCH(isa, kv_cache_write_cpu, k_cache, v_cache, dtype, k, v, slots, n_tokens, n_kv_heads, head_dim,
                  block_size);
  return env.Undefined();
}

}  // namespace

void register_kv_cache_write_binding(Napi::Env env, Napi::Object ops) {
  ops.Set("kvCacheWrite", Napi::Function::New(env, KvCacheWrite));
}

}  // namespace kv::napi
