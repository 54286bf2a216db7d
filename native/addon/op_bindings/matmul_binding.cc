#include <stdexcept>
#include <string>

#include "core/dtype.h"
#include "core/isa.h"
#include "core/scratch.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/matmul/matmul.h"

namespace kv::napi {

namespace {

// matmul(isa, out, x, weight, dtype, n, k, bias, m, threads): out[m, n] = x[m, k] . W[n, k]^T (+ bias)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const auto dtype = static_cast<DType>(int_arg(info, 4, "dtype", 0, 6));
  const int64_t n = int_arg(info, 5, "n", 1, 1 << 24);
  const int64_t k = int_arg(info, 6, "k", 1, 1 << 24);
  const int64_t m = int_arg(info, 8, "m", 0, 1 << 24);
  const int threads = static_cast<int>(int_arg(info, 9, "threads", 1, 256));
  const int64_t block = dtype_block_elems(dtype);
  if (k % block != 0) {
    throw Napi::RangeError::New(env, "k: expected a multiple of the " + std::string(dtype_name(dtype)) + " block size " +
                                         std::to_string(block) + ", got " + std::to_string(k));
  }
  float* out = typed_array<float>(info, 1, "out", static_cast<size_t>(m * n));
  const float* x = typed_array<float>(info, 2, "x", static_cast<size_t>(m * k));
  const int64_t weight_bytes = n * dtype_row_bytes(dtype, k);
  const uint8_t* weight = typed_array<uint8_t>(info, 3, "weight", static_cast<size_t>(weight_bytes));
  if (info[3].As<Napi::TypedArray>().ByteLength() != static_cast<size_t>(weight_bytes)) {
    throw Napi::RangeError::New(env, "weight: expected " + std::to_string(weight_bytes) + " bytes (n * row bytes of " +
                                         dtype_name(dtype) + " with k = " + std::to_string(k) + "), got " +
                                         std::to_string(info[3].As<Napi::TypedArray>().ByteLength()));
  }
  const float* bias = nullptr;
  if (info.Length() > 7 && !info[7].IsNull() && !info[7].IsUndefined()) bias = typed_array<float>(info, 7, "bias", n);
  if (out < x + m * k && x < out + m * n) throw Napi::Error::New(env, "out: must not overlap x");
  const WeightView w{weight, dtype, n, k};
  try {
    matmul_check_shape(w, m);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  static Scratch scratch;  // the JS thread is the only caller
  KV_CPU_DISPATCH(isa, matmul_cpu, out, x, w, bias, m, op_thread_pool(threads), scratch);
  return env.Undefined();
}

}  // namespace

void register_matmul_binding(Napi::Env env, Napi::Object ops) { ops.Set("matmul", Napi::Function::New(env, Matmul)); }

}  // namespace kv::napi
