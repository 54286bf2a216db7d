#include <string>

#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/dtype_args.h"
#include "op_bindings/op_bindings.h"
#include "ops/embedding/embedding.h"

namespace kv::napi {

namespace {

// embedding(isa, out, table, dtype, vocab, dim, ids)
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const DType dtype = dtype_arg(info, 3);
  const int64_t vocab = int_arg(info, 4, "vocab", 1, int64_t(1) << 31);
  const int64_t dim = int_arg(info, 5, "dim", 1, int64_t(1) << 24);
  check_whole_blocks(env, "dim", dim, dtype);
  const int32_t* ids = typed_array<int32_t>(info, 6, "ids", 0);
  const int64_t n = static_cast<int64_t>(info[6].As<Napi::TypedArray>().ElementLength());
  float* out = typed_array<float>(info, 1, "out", static_cast<size_t>(n * dim));
  const uint8_t* table = typed_array<uint8_t>(info, 2, "table", static_cast<size_t>(vocab * dtype_row_bytes(dtype, dim)));
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw Napi::RangeError::New(env, "ids[" + std::to_string(i) + "]: expected a token id in [0, " +
                                           std::to_string(vocab) + "), got " + std::to_string(ids[i]));
    }
  }
  KV_CPU_DISPATCH(isa, embedding_cpu, out, table, dtype, dim, ids, n);
  return env.Undefined();
}

}  // namespace

void register_embedding_binding(Napi::Env env, Napi::Object ops) { ops.Set("embedding", Napi::Function::New(env, Embedding)); }

}  // namespace kv::napi
