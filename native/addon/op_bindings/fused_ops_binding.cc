// Bindings of the CPU backend's fused ops (core/backend_ops.h), each run either fused (CpuOps'
// override) or as the separate ops it replaces (BackendOps' default on the same CpuOps), so the op
// tests can hold the two equal bit for bit on every ISA variant.
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/cpu_ops.h"
#include "core/dtype.h"
#include "core/isa.h"
#include "ops/rope/rope.h"
#include "core/scratch.h"
#include "napi_util.h"
#include "op_bindings/kv_cache_args.h"
#include "op_bindings/op_bindings.h"
#include "ops/matmul/matmul.h"

namespace kv::napi {

namespace {

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsBoolean()) throw TypeError(info.Env(), std::string(name) + ": expected a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

// Weights of one dtype and k, packed for the variant when asked (the packed copies live in `packed`).
struct Weights {
  std::vector<WeightView> views;
  std::vector<std::unique_ptr<Scratch>> packed;

  void add(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t n, DType dtype, int64_t k, bool pack,
           Isa isa, ThreadPool& pool) {
    const size_t bytes = static_cast<size_t>(n * dtype_row_bytes(dtype, k));
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        v.As<Napi::Uint8Array>().ByteLength() != bytes) {
      throw Napi::RangeError::New(env, name + ": expected a Uint8Array of " + std::to_string(bytes) + " bytes");
    }
    WeightView view{v.As<Napi::Uint8Array>().Data(), dtype, n, k};
    const int64_t packed_bytes = pack ? KV_CPU_SELECT(isa, matmul_packed_bytes)(view) : 0;
    if (packed_bytes > 0) {
      packed.push_back(std::make_unique<Scratch>());
      auto* dst = static_cast<uint8_t*>(packed.back()->get(static_cast<size_t>(packed_bytes)));
      KV_CPU_DISPATCH(isa, matmul_pack, dst, view, pool);
      view.packed = dst;
    }
    views.push_back(view);
  }
};

int64_t block_multiple_k(const Napi::CallbackInfo& info, size_t index, DType dtype) {
  const int64_t k = int_arg(info, index, "k", 1, 1 << 20);
  if (k % dtype_block_elems(dtype) != 0) {
    throw Napi::RangeError::New(info.Env(), "k: expected a multiple of the " + std::string(dtype_name(dtype)) +
                                                " block size " + std::to_string(dtype_block_elems(dtype)) + ", got " + std::to_string(k));
  }
  return k;
}

// fusedAddRmsNormMatmuls(isa, fused, x, add | null, normWeight, eps, outs[], weights[], dtype, ns[], k, m,
// threads, packed): x[m, k] += add, then outs[i][m, ns[i]] = rms_norm(x) . W_i^T. x is written.
Napi::Value FusedAddRmsNormMatmuls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const bool fused = bool_arg(info, 1, "fused");
  // dtype: one for every weight, or an array of one per weight (mixed types, as some K-quant files have).
  const Napi::Array dtypes_a = info[8].IsArray() ? info[8].As<Napi::Array>() : Napi::Array::New(env, 0);
  const auto dtype_of = [&](uint32_t i) {
    if (!info[8].IsArray()) return static_cast<DType>(int_arg(info, 8, "dtype", 0, 6));
    const Napi::Value v = dtypes_a.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0 || v.As<Napi::Number>().Int32Value() > 6) {
      throw Napi::RangeError::New(env, "dtype[" + std::to_string(i) + "]: expected an integer in [0, 6]");
    }
    return static_cast<DType>(v.As<Napi::Number>().Int32Value());
  };
  const int64_t k = int_arg(info, 10, "k", 1, 1 << 20);
  const int64_t m = int_arg(info, 11, "m", 0, 1 << 16);
  const int threads = static_cast<int>(int_arg(info, 12, "threads", 1, 64));
  const bool pack = bool_arg(info, 13, "packed");
  float* x = typed_array<float>(info, 2, "x", static_cast<size_t>(m * k));
  const bool has_add = !info[3].IsNull() && !info[3].IsUndefined();
  const float* add = has_add ? typed_array<float>(info, 3, "add", static_cast<size_t>(m * k)) : nullptr;
  const float* norm_weight = typed_array<float>(info, 4, "normWeight", static_cast<size_t>(k));
  const float eps = static_cast<float>(number_arg(info, 5, "eps"));
  if (!info[6].IsArray() || !info[9].IsArray()) throw TypeError(env, "outs, ns: expected arrays");
  const Napi::Array outs_a = info[6].As<Napi::Array>(), ns_a = info[9].As<Napi::Array>();
  const uint32_t count = ns_a.Length();
  if (count < 1 || count > 8 || outs_a.Length() != count) throw Napi::RangeError::New(env, "outs, ns: expected 1 to 8 entries each, of equal length");
  std::vector<int64_t> ns(count);
  std::vector<float*> outs(count);
  for (uint32_t i = 0; i < count; ++i) {
    const Napi::Value nv = ns_a.Get(i), ov = outs_a.Get(i);
    if (!nv.IsNumber() || nv.As<Napi::Number>().Int64Value() < 1 || nv.As<Napi::Number>().Int64Value() > (1 << 20)) {
      throw Napi::RangeError::New(env, "ns[" + std::to_string(i) + "]: expected an integer in [1, 1048576]");
    }
    ns[i] = nv.As<Napi::Number>().Int64Value();
    if (!ov.IsTypedArray() || ov.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        ov.As<Napi::Float32Array>().ElementLength() < static_cast<size_t>(m * ns[i])) {
      throw Napi::RangeError::New(env, "outs[" + std::to_string(i) + "]: expected a Float32Array of m * ns[i]");
    }
    outs[i] = ov.As<Napi::Float32Array>().Data();
  }
  ThreadPool& pool = op_thread_pool(threads);
  if (!info[7].IsArray() || info[7].As<Napi::Array>().Length() != count) throw TypeError(env, "weights: expected an array with one Uint8Array per output");
  Weights w;
  for (uint32_t i = 0; i < count; ++i) {
    const DType dtype = dtype_of(i);
    if (k % dtype_block_elems(dtype) != 0) {
      throw Napi::RangeError::New(env, "k: expected a multiple of the " + std::string(dtype_name(dtype)) + " block size, got " + std::to_string(k));
    }
    w.add(env, info[7].As<Napi::Array>().Get(i), "weights[" + std::to_string(i) + "]", ns[i], dtype, k, pack, isa, pool);
  }
  std::vector<const WeightView*> ws(count);
  std::vector<const float*> biases(count, nullptr);
  for (uint32_t i = 0; i < count; ++i) ws[i] = &w.views[i];
  static Scratch scratch;
  std::vector<float> normed(static_cast<size_t>(m * k));
  CpuOps ops(isa, pool, scratch);
  if (fused) {
    ops.add_rms_norm_matmuls(x, add, norm_weight, eps, normed.data(), outs.data(), ws.data(), biases.data(), static_cast<int>(count), m);
  } else {
    ops.BackendOps::add_rms_norm_matmuls(x, add, norm_weight, eps, normed.data(), outs.data(), ws.data(), biases.data(),
                                         static_cast<int>(count), m);
  }
  return env.Undefined();
}

// fusedSiluMulMatmul(isa, fused, out, gate, up, weight, dtype, n, k, m, threads, packed):
// out[m, n] = (silu(gate) * up)[m, k] . W^T. gate may be written.
Napi::Value FusedSiluMulMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const bool fused = bool_arg(info, 1, "fused");
  const auto dtype = static_cast<DType>(int_arg(info, 6, "dtype", 0, 6));
  const int64_t n = int_arg(info, 7, "n", 1, 1 << 20);
  const int64_t k = block_multiple_k(info, 8, dtype);
  const int64_t m = int_arg(info, 9, "m", 0, 1 << 16);
  const int threads = static_cast<int>(int_arg(info, 10, "threads", 1, 64));
  const bool pack = bool_arg(info, 11, "packed");
  float* out = typed_array<float>(info, 2, "out", static_cast<size_t>(m * n));
  float* gate = typed_array<float>(info, 3, "gate", static_cast<size_t>(m * k));
  const float* up = typed_array<float>(info, 4, "up", static_cast<size_t>(m * k));
  ThreadPool& pool = op_thread_pool(threads);
  Weights w;
  w.add(env, info[5], "weight", n, dtype, k, pack, isa, pool);
  static Scratch scratch;
  CpuOps ops(isa, pool, scratch);
  if (fused) ops.silu_mul_matmul(out, gate, up, w.views[0], m);
  else ops.BackendOps::silu_mul_matmul(out, gate, up, w.views[0], m);
  return env.Undefined();
}

// fusedRopeKvCacheWrite(isa, fused, q, k, v, nTokens, nHeads, nKvHeads, headDim, ropeDim, positions, invFreq,
// positionScale, layout, kCache, vCache, kvDtype, numBlocks, slotMapping, blockSize, threads):
// q and k rotated in place, then k and v written to the cache slots (-1: skipped).
Napi::Value FusedRopeKvCacheWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const bool fused = bool_arg(info, 1, "fused");
  const int64_t n_tokens = int_arg(info, 5, "nTokens", 0, 1 << 20);
  const int64_t n_heads = int_arg(info, 6, "nHeads", 1, 4096);
  const int64_t n_kv_heads = int_arg(info, 7, "nKvHeads", 1, 4096);
  const int64_t head_dim = int_arg(info, 8, "headDim", 1, 4096);
  const int64_t rope_dim = int_arg(info, 9, "ropeDim", 0, head_dim);
  if (rope_dim % 2 != 0) throw Napi::RangeError::New(env, "ropeDim: expected an even number, got " + std::to_string(rope_dim));
  float* q = typed_array<float>(info, 2, "q", static_cast<size_t>(checked_product(env, "q", {n_tokens, n_heads, head_dim})));
  const size_t kv_rows = static_cast<size_t>(checked_product(env, "k", {n_tokens, n_kv_heads, head_dim}));
  float* k = typed_array<float>(info, 3, "k", kv_rows);
  const float* v = typed_array<float>(info, 4, "v", kv_rows);
  const int32_t* positions = typed_array<int32_t>(info, 10, "positions", static_cast<size_t>(n_tokens));
  const float* inv_freq = typed_array<float>(info, 11, "invFreq", static_cast<size_t>(rope_dim / 2));
  const float position_scale = static_cast<float>(number_arg(info, 12, "positionScale"));
  const int32_t layout = static_cast<int32_t>(int_arg(info, 13, "layout", kRopeNorm, kRopeNeox));
  const DType kv_dtype = kv_dtype_arg(info, 16);
  const int64_t num_blocks = int_arg(info, 17, "numBlocks", 0, INT32_MAX);
  const int64_t block_size = int_arg(info, 19, "blockSize", 1, 65536);
  uint8_t* k_cache = kv_cache_arg(info, 14, "kCache", kv_dtype, num_blocks, n_kv_heads, block_size, head_dim);
  uint8_t* v_cache = kv_cache_arg(info, 15, "vCache", kv_dtype, num_blocks, n_kv_heads, block_size, head_dim);
  const int32_t* slots = typed_array<int32_t>(info, 18, "slotMapping", static_cast<size_t>(n_tokens));
  std::vector<bool> used(static_cast<size_t>(num_blocks * block_size), false);
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (slots[t] == -1) continue;
    if (slots[t] < -1 || slots[t] >= num_blocks * block_size || used[static_cast<size_t>(slots[t])]) {
      throw Napi::RangeError::New(env, "slotMapping[" + std::to_string(t) + "]: expected -1 or a distinct slot in [0, " +
                                           std::to_string(num_blocks * block_size) + "), got " + std::to_string(slots[t]));
    }
    used[static_cast<size_t>(slots[t])] = true;
  }
  const int threads = static_cast<int>(int_arg(info, 20, "threads", 1, 64));
  ThreadPool& pool = op_thread_pool(threads);
  static Scratch scratch;
  CpuOps ops(isa, pool, scratch);
  if (fused) {
    ops.rope_kv_cache_write(q, k, v, n_tokens, n_heads, n_kv_heads, head_dim, rope_dim, positions, inv_freq, position_scale,
                            layout, k_cache, v_cache, kv_dtype, slots, block_size);
  } else {
    ops.BackendOps::rope_kv_cache_write(q, k, v, n_tokens, n_heads, n_kv_heads, head_dim, rope_dim, positions, inv_freq,
                                        position_scale, layout, k_cache, v_cache, kv_dtype, slots, block_size);
  }
  return env.Undefined();
}

}  // namespace

void register_fused_ops_binding(Napi::Env env, Napi::Object ops) {
  ops.Set("fusedAddRmsNormMatmuls", Napi::Function::New(env, FusedAddRmsNormMatmuls));
  ops.Set("fusedSiluMulMatmul", Napi::Function::New(env, FusedSiluMulMatmul));
  ops.Set("fusedRopeKvCacheWrite", Napi::Function::New(env, FusedRopeKvCacheWrite));
}

}  // namespace kv::napi
