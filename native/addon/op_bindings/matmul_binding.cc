#include <memory>
#include <stdexcept>
#include <vector>
#include <string>

#include "core/dtype.h"
#include "core/isa.h"
#include "core/scratch.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/matmul/matmul.h"

namespace kv::napi {

namespace {

// matmul(isa, out, x, weight, dtype, n, k, bias, m, threads, packed?): out[m, n] = x[m, k] . W[n, k]^T (+ bias)
// packed: true = pack W first (matmul.h, "Packed weights") when the variant has a packed kernel for
// dtype; a Uint8Array from matmulPack = W already packed (benches time the product alone).
// matmulPack(isa, weight, dtype, n, k) -> Uint8Array | null (null: the variant reads W unpacked)
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
  ThreadPool& pool = op_thread_pool(threads);
  const bool given = info.Length() > 10 && info[10].IsTypedArray();
  const bool pack = info.Length() > 10 && info[10].IsBoolean() && info[10].As<Napi::Boolean>().Value();
  const int64_t packed_bytes = pack || given ? KV_CPU_SELECT(isa, matmul_packed_bytes)(w) : 0;
  if (given) {
    if (packed_bytes == 0) throw Napi::TypeError::New(env, "packed: this variant has no packed layout for " + std::string(dtype_name(dtype)));
    WeightView pw = w;
    pw.packed = typed_array<uint8_t>(info, 10, "packed", static_cast<size_t>(packed_bytes));
    if (reinterpret_cast<uintptr_t>(pw.packed) % 64 != 0) throw Napi::RangeError::New(env, "packed: expected the array matmulPack returned");
    KV_CPU_DISPATCH(isa, matmul_cpu, out, x, pw, bias, m, pool, scratch);
    return env.Undefined();
  }
  if (packed_bytes > 0) {
    static Scratch packed;  // reused between calls, like scratch
    auto* dst = static_cast<uint8_t*>(packed.get(static_cast<size_t>(packed_bytes)));
    KV_CPU_DISPATCH(isa, matmul_pack, dst, w, pool);
    WeightView pw = w;
    pw.packed = dst;
    KV_CPU_DISPATCH(isa, matmul_cpu, out, x, pw, bias, m, pool, scratch);
    return env.Undefined();
  }
  KV_CPU_DISPATCH(isa, matmul_cpu, out, x, w, bias, m, pool, scratch);
  return env.Undefined();
}

// matmulMulti(isa, outs[], x, weights[], dtype, ns[], k, biases[], m, threads, packed?): the products
// of one x with several weights (matmul_multi_cpu); outs[i] = x . W_i^T (+ biases[i]), [m, ns[i]].
Napi::Value MatmulMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  if (!info[1].IsArray() || !info[3].IsArray() || !info[5].IsArray() || !info[7].IsArray()) {
    throw Napi::TypeError::New(env, "outs, weights, ns, biases: expected arrays");
  }
  const Napi::Array outs_a = info[1].As<Napi::Array>(), ws_a = info[3].As<Napi::Array>(), ns_a = info[5].As<Napi::Array>(),
                    bs_a = info[7].As<Napi::Array>();
  const uint32_t count = ws_a.Length();
  if (count < 1 || count > 16 || outs_a.Length() != count || ns_a.Length() != count || bs_a.Length() != count) {
    throw Napi::RangeError::New(env, "outs, weights, ns, biases: expected 1 to 16 entries each, of equal length");
  }
  const auto dtype = static_cast<DType>(int_arg(info, 4, "dtype", 0, 6));
  const int64_t k = int_arg(info, 6, "k", 1, 1 << 24);
  const int64_t m = int_arg(info, 8, "m", 0, 1 << 24);
  const int threads = static_cast<int>(int_arg(info, 9, "threads", 1, 256));
  if (k % dtype_block_elems(dtype) != 0) throw Napi::RangeError::New(env, "k: expected a multiple of the block size");
  const float* x = typed_array<float>(info, 2, "x", static_cast<size_t>(m * k));
  const bool pack = info.Length() > 10 && info[10].IsBoolean() && info[10].As<Napi::Boolean>().Value();
  ThreadPool& pool = op_thread_pool(threads);
  std::vector<WeightView> ws(count);
  std::vector<float*> outs(count);
  std::vector<const float*> biases(count, nullptr);
  std::vector<std::unique_ptr<Scratch>> packed(count);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value nv = ns_a.Get(i), wv = ws_a.Get(i), ov = outs_a.Get(i), bv = bs_a.Get(i);
    if (!nv.IsNumber()) throw Napi::TypeError::New(env, "ns[" + std::to_string(i) + "]: expected a number");
    const int64_t n = static_cast<int64_t>(nv.As<Napi::Number>().DoubleValue());
    if (n < 1 || n > (1 << 24)) throw Napi::RangeError::New(env, "ns[" + std::to_string(i) + "]: out of range");
    if (!wv.IsTypedArray() || wv.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        wv.As<Napi::Uint8Array>().ByteLength() != static_cast<size_t>(n * dtype_row_bytes(dtype, k))) {
      throw Napi::RangeError::New(env, "weights[" + std::to_string(i) + "]: expected a Uint8Array of n * row bytes");
    }
    if (!ov.IsTypedArray() || ov.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        ov.As<Napi::Float32Array>().ElementLength() < static_cast<size_t>(m * n)) {
      throw Napi::RangeError::New(env, "outs[" + std::to_string(i) + "]: expected a Float32Array of m * n");
    }
    if (!bv.IsNull() && !bv.IsUndefined()) {
      if (!bv.IsTypedArray() || bv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          bv.As<Napi::Float32Array>().ElementLength() < static_cast<size_t>(n)) {
        throw Napi::RangeError::New(env, "biases[" + std::to_string(i) + "]: expected null or a Float32Array of n");
      }
      biases[i] = bv.As<Napi::Float32Array>().Data();
    }
    outs[i] = ov.As<Napi::Float32Array>().Data();
    ws[i] = WeightView{wv.As<Napi::Uint8Array>().Data(), dtype, n, k};
    const int64_t bytes = pack ? KV_CPU_SELECT(isa, matmul_packed_bytes)(ws[i]) : 0;
    if (bytes > 0) {
      packed[i] = std::make_unique<Scratch>();
      auto* dst = static_cast<uint8_t*>(packed[i]->get(static_cast<size_t>(bytes)));
      KV_CPU_DISPATCH(isa, matmul_pack, dst, ws[i], pool);
      ws[i].packed = dst;
    }
  }
  std::vector<const WeightView*> wp(count);
  for (uint32_t i = 0; i < count; ++i) wp[i] = &ws[i];
  static Scratch scratch;
  KV_CPU_DISPATCH(isa, matmul_multi_cpu, outs.data(), x, wp.data(), biases.data(), static_cast<int>(count), m, pool, scratch);
  return env.Undefined();
}

Napi::Value MatmulPack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const auto dtype = static_cast<DType>(int_arg(info, 2, "dtype", 0, 6));
  const int64_t n = int_arg(info, 3, "n", 1, 1 << 24);
  const int64_t k = int_arg(info, 4, "k", 1, 1 << 24);
  if (k % dtype_block_elems(dtype) != 0) throw Napi::RangeError::New(env, "k: expected a multiple of the block size");
  const int64_t weight_bytes = n * dtype_row_bytes(dtype, k);
  const uint8_t* weight = typed_array<uint8_t>(info, 1, "weight", static_cast<size_t>(weight_bytes));
  const WeightView w{weight, dtype, n, k};
  const int64_t bytes = KV_CPU_SELECT(isa, matmul_packed_bytes)(w);
  if (bytes == 0) return env.Null();
  // 64 bytes of slack so the view can start on a 64-byte boundary (the kernels' aligned loads).
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, static_cast<size_t>(bytes + 64));
  const size_t skew = (64 - reinterpret_cast<uintptr_t>(buf.Data()) % 64) % 64;
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(bytes), buf, skew);
  KV_CPU_DISPATCH(isa, matmul_pack, out.Data(), w, op_thread_pool());
  return out;
}

}  // namespace

void register_matmul_binding(Napi::Env env, Napi::Object ops) {
  ops.Set("matmul", Napi::Function::New(env, Matmul));
  ops.Set("matmulPack", Napi::Function::New(env, MatmulPack));
  ops.Set("matmulMulti", Napi::Function::New(env, MatmulMulti));
}

}  // namespace kv::napi
