#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/argmax/argmax.h"

namespace kv::napi {

namespace {

// argmaxRows(isa, out, x, rows, cols)
Napi::Value ArgmaxRows(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0);
  const int64_t rows = int_arg(info, 3, "rows", 0, int64_t(1) << 24);
  const int64_t cols = int_arg(info, 4, "cols", 1, (int64_t(1) << 31) - 1);
  int32_t* out = typed_array<int32_t>(info, 1, "out", static_cast<size_t>(rows));
  const float* x = typed_array<float>(info, 2, "x", static_cast<size_t>(rows * cols));
  KV_CPU_DISPATCH(isa, argmax_rows_cpu, out, x, rows, cols);
  return info.Env().Undefined();
}

}  // namespace

void register_argmax_binding(Napi::Env env, Napi::Object ops) { ops.Set("argmaxRows", Napi::Function::New(env, ArgmaxRows)); }

}  // namespace kv::napi
