#include "sample_params_parse.h"

#include <string>

#include "core/step_validation.h"
#include "napi_util.h"

namespace kv::napi {

Float64Span float64_array(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_length) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw TypeError(env, std::string(name) + ": expected Float64Array");
  }
  Napi::TypedArray arr = info[index].As<Napi::TypedArray>();
  if (arr.ElementLength() < min_length) {
    throw Napi::RangeError::New(env, std::string(name) + ": expected at least " + std::to_string(min_length) +
                                         " elements, got " + std::to_string(arr.ElementLength()));
  }
  const auto* data = reinterpret_cast<const double*>(static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset());
  return Float64Span{data, arr.ElementLength()};
}

std::vector<SampleParams> parse_sample_params(Napi::Env env, const double* packed, int64_t rows, int64_t max_logprobs,
                                              const int32_t* history, size_t history_length, const int32_t* bias_ids,
                                              const float* bias_values, size_t bias_length, int64_t vocab) {
  try {
    return check_sample_params(packed, rows, max_logprobs, history, history_length, bias_ids, bias_values, bias_length, vocab);
  } catch (const InputError& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

}  // namespace kv::napi
