#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/isa.h"
#include "core/rope_freqs.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/rope/rope.h"

namespace kv::napi {

namespace {

// rope(isa, x, nTokens, nHeads, headDim, ropeDim, positions, invFreq, positionScale, layout)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const int64_t n_tokens = int_arg(info, 2, "nTokens", 0, int64_t(1) << 24);
  const int64_t n_heads = int_arg(info, 3, "nHeads", 1, int64_t(1) << 16);
  const int64_t head_dim = int_arg(info, 4, "headDim", 1, int64_t(1) << 16);
  const int64_t rope_dim = int_arg(info, 5, "ropeDim", 0, head_dim);
  if (rope_dim % 2 != 0) throw Napi::RangeError::New(env, "ropeDim: expected an even number, got " + std::to_string(rope_dim));
  float* x = typed_array<float>(info, 1, "x", static_cast<size_t>(n_tokens * n_heads * head_dim));
  const int32_t* positions = typed_array<int32_t>(info, 6, "positions", static_cast<size_t>(n_tokens));
  const float* inv_freq = typed_array<float>(info, 7, "invFreq", static_cast<size_t>(rope_dim / 2));
  const double scale = number_arg(info, 8, "positionScale");
  if (!std::isfinite(static_cast<float>(scale))) throw Napi::RangeError::New(env, "positionScale: expected a finite float");
  const int32_t layout = static_cast<int32_t>(int_arg(info, 9, "layout", kRopeNorm, kRopeNeox));
  KV_CPU_DISPATCH(isa, rope_cpu, x, n_tokens, n_heads, head_dim, rope_dim, positions, inv_freq,
                  static_cast<float>(scale), layout);
  return env.Undefined();
}

double positive_field(Napi::Env env, Napi::Object o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw TypeError(env, std::string("llama3.") + key + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d > 0.0) || !std::isfinite(d)) {
    throw Napi::RangeError::New(env, std::string("llama3.") + key + ": expected a positive number, got " + std::to_string(d));
  }
  return d;
}

// ropeInvFreq(ropeDim, theta, freqFactors | null, llama3 | null) -> Float32Array [ropeDim / 2]
Napi::Value RopeInvFreq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rope_dim = int_arg(info, 0, "ropeDim", 2, int64_t(1) << 16);
  if (rope_dim % 2 != 0) throw Napi::RangeError::New(env, "ropeDim: expected an even number, got " + std::to_string(rope_dim));
  const double theta = number_arg(info, 1, "theta");
  if (!(theta > 0.0) || !std::isfinite(theta)) throw Napi::RangeError::New(env, "theta: expected a positive number");
  const int64_t half = rope_dim / 2;
  const float* factors = nullptr;
  if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()) {
    factors = typed_array<float>(info, 2, "freqFactors", static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) {
      if (!(factors[i] > 0.0f) || !std::isfinite(factors[i])) {
        throw Napi::RangeError::New(env, "freqFactors[" + std::to_string(i) + "]: expected a positive number");
      }
    }
  }
  Llama3Scaling llama3;
  bool has_llama3 = false;
  if (info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined()) {
    if (!info[3].IsObject()) throw TypeError(env, "llama3: expected an object or null");
    const Napi::Object o = info[3].As<Napi::Object>();
    llama3.factor = positive_field(env, o, "factor");
    llama3.low_freq_factor = positive_field(env, o, "lowFreqFactor");
    llama3.high_freq_factor = positive_field(env, o, "highFreqFactor");
    llama3.original_max_position_embeddings = positive_field(env, o, "originalMaxPositionEmbeddings");
    if (!(llama3.low_freq_factor < llama3.high_freq_factor)) {
      throw Napi::RangeError::New(env, "llama3: expected lowFreqFactor < highFreqFactor");
    }
    has_llama3 = true;
  }
  const std::vector<float> inv = rope_inv_freq(rope_dim, theta, factors, has_llama3 ? &llama3 : nullptr);
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(half));
  std::memcpy(out.Data(), inv.data(), inv.size() * sizeof(float));
  return out;
}

}  // namespace

void register_rope_binding(Napi::Env env, Napi::Object ops) { ops.Set("rope", Napi::Function::New(env, Rope)); }

void register_rope_inv_freq_binding(Napi::Env env, Napi::Object ops) {
  ops.Set("ropeInvFreq", Napi::Function::New(env, RopeInvFreq));
}

}  // namespace kv::napi
