#include "sampling_input.h"

#include <string>

#include "napi_util.h"
#include "sample_params_parse.h"

namespace kv::napi {

namespace {

template <typename T, typename Arr>
std::vector<T> copy_field(const Napi::Object& o, const char* key, napi_typedarray_type type, const char* type_name) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw TypeError(o.Env(), std::string("step.sampling.") + key + ": expected " + type_name);
  }
  Arr a = v.As<Arr>();
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

}  // namespace

SamplingInput parse_sampling_input(const Napi::Value& value, int64_t rows, int64_t vocab) {
  SamplingInput in;
  if (value.IsUndefined() || value.IsNull()) return in;
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw TypeError(env, "step.sampling: expected an object");
  Napi::Object o = value.As<Napi::Object>();
  Napi::Value max_v = o.Get("maxLogprobs");
  if (!max_v.IsNumber()) throw TypeError(env, "step.sampling.maxLogprobs: expected a number");
  const double max_logprobs = max_v.As<Napi::Number>().DoubleValue();
  if (!(max_logprobs >= 0 && max_logprobs <= kSampleMaxLogprobs) || max_logprobs != static_cast<int32_t>(max_logprobs)) {
    throw Napi::RangeError::New(env, "step.sampling.maxLogprobs: expected an integer in [0, 20]");
  }
  in.max_logprobs = static_cast<int32_t>(max_logprobs);
  const std::vector<double> packed = copy_field<double, Napi::Float64Array>(o, "params", napi_float64_array, "Float64Array");
  if (static_cast<int64_t>(packed.size()) != rows * kSampleParamsStride) {
    throw Napi::RangeError::New(env, "step.sampling.params: expected " + std::to_string(rows * kSampleParamsStride) +
                                         " numbers (" + std::to_string(kSampleParamsStride) + " per logits row), got " +
                                         std::to_string(packed.size()));
  }
  in.history = copy_field<int32_t, Napi::Int32Array>(o, "history", napi_int32_array, "Int32Array");
  in.bias_token_ids = copy_field<int32_t, Napi::Int32Array>(o, "biasTokenIds", napi_int32_array, "Int32Array");
  in.bias_values = copy_field<float, Napi::Float32Array>(o, "biasValues", napi_float32_array, "Float32Array");
  const size_t bias_length = std::min(in.bias_token_ids.size(), in.bias_values.size());
  in.params = parse_sample_params(env, packed.data(), rows, in.max_logprobs, in.history.data(), in.history.size(),
                                  in.bias_token_ids.data(), in.bias_values.data(), bias_length, vocab);
  in.present = true;
  return in;
}

}  // namespace kv::napi
