#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/rms_norm/rms_norm.h"

namespace kv::napi {

namespace {

// rmsNorm(isa, out, x, weight, rows, dim, eps)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0);
  const int64_t rows = int_arg(info, 4, "rows", 0, 1 << 24);
  const int64_t dim = int_arg(info, 5, "dim", 1, 1 << 20);
  const float eps = static_cast<float>(number_arg(info, 6, "eps"));
  float* out = typed_array<float>(info, 1, "out", rows * dim);
  const float* x = typed_array<float>(info, 2, "x", rows * dim);
  const float* w = typed_array<float>(info, 3, "weight", dim);
  KV_CPU_DISPATCH(isa, rms_norm_cpu, out, x, w, rows, dim, eps);
  return info.Env().Undefined();
}

}  // namespace

void register_rms_norm_binding(Napi::Env env, Napi::Object ops) { ops.Set("rmsNorm", Napi::Function::New(env, RmsNorm)); }

}  // namespace kv::napi
