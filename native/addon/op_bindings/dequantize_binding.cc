#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/dtype_args.h"
#include "op_bindings/op_bindings.h"
#include "ops/dequantize/dequantize.h"

namespace kv::napi {

namespace {

// dequantizeRow(isa, out, row, dtype, n)
Napi::Value DequantizeRow(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0);
  const DType dtype = dtype_arg(info, 3);
  const int64_t n = int_arg(info, 4, "n", 0, int64_t(1) << 31);
  check_whole_blocks(info.Env(), "n", n, dtype);
  float* out = typed_array<float>(info, 1, "out", static_cast<size_t>(n));
  const uint8_t* row = typed_array<uint8_t>(info, 2, "row", static_cast<size_t>(dtype_row_bytes(dtype, n)));
  KV_CPU_DISPATCH(isa, dequantize_row_cpu, out, row, dtype, n);
  return info.Env().Undefined();
}

}  // namespace

void register_dequantize_binding(Napi::Env env, Napi::Object ops) {
  ops.Set("dequantizeRow", Napi::Function::New(env, DequantizeRow));
}

}  // namespace kv::napi
