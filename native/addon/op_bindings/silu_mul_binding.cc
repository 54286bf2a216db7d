#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/silu_mul/silu_mul.h"

namespace kv::napi {

namespace {

// siluMul(isa, out, gate, up, n)
Napi::Value SiluMul(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0);
  const int64_t n = int_arg(info, 4, "n", 0, int64_t(1) << 32);
  float* out = typed_array<float>(info, 1, "out", static_cast<size_t>(n));
  const float* gate = typed_array<float>(info, 2, "gate", static_cast<size_t>(n));
  const float* up = typed_array<float>(info, 3, "up", static_cast<size_t>(n));
  KV_CPU_DISPATCH(isa, silu_mul_cpu, out, gate, up, n);
  return info.Env().Undefined();
}

}  // namespace

void register_silu_mul_binding(Napi::Env env, Napi::Object ops) { ops.Set("siluMul", Napi::Function::New(env, SiluMul)); }

}  // namespace kv::napi
