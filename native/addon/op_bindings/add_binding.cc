#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/add/add.h"

namespace kv::napi {

namespace {

// add(isa, out, a, b, n)
Napi::Value Add(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0);
  const int64_t n = int_arg(info, 4, "n", 0, int64_t(1) << 32);
  float* out = typed_array<float>(info, 1, "out", static_cast<size_t>(n));
  const float* a = typed_array<float>(info, 2, "a", static_cast<size_t>(n));
  const float* b = typed_array<float>(info, 3, "b", static_cast<size_t>(n));
  KV_CPU_DISPATCH(isa, add_cpu, out, a, b, n);
  return info.Env().Undefined();
}

// addBias(isa, x, bias, rows, cols)
Napi::Value AddBias(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0);
  const int64_t rows = int_arg(info, 3, "rows", 0, int64_t(1) << 24);
  const int64_t cols = int_arg(info, 4, "cols", 1, int64_t(1) << 24);
  float* x = typed_array<float>(info, 1, "x", static_cast<size_t>(rows * cols));
  const float* bias = typed_array<float>(info, 2, "bias", static_cast<size_t>(cols));
  KV_CPU_DISPATCH(isa, add_bias_cpu, x, bias, rows, cols);
  return info.Env().Undefined();
}

}  // namespace

void register_add_binding(Napi::Env env, Napi::Object ops) { ops.Set("add", Napi::Function::New(env, Add)); }

void register_add_bias_binding(Napi::Env env, Napi::Object ops) { ops.Set("addBias", Napi::Function::New(env, AddBias)); }

}  // namespace kv::napi
