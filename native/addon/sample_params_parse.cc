#include "sample_params_parse.h"

#include <cmath>
#include <string>

#include "napi_util.h"

namespace kv::napi {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

std::string format_number(double v) {
  std::string s = std::to_string(v);
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) s = std::to_string(static_cast<int64_t>(v));
  return s;
}

// Reads and range-checks one packed row.
class RowReader {
 public:
  RowReader(Napi::Env env, const double* row, int64_t index) : env_(env), row_(row), index_(index) {}

  double number(int field, const char* name, double lo, double hi, bool lo_open, const char* expected) const {
    const double v = row_[field];
    const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
    if (!ok) fail(name, expected, v);
    return v;
  }

  int64_t integer(int field, const char* name, double lo, double hi, const char* expected) const {
    const double v = row_[field];
    if (!(std::isfinite(v) && v == std::floor(v) && v >= lo && v <= hi)) fail(name, expected, v);
    return static_cast<int64_t>(v);
  }

  [[noreturn]] void fail(const char* name, const std::string& expected, double v) const {
    throw Napi::RangeError::New(env_, "params[row " + std::to_string(index_) + "]." + name + ": expected " + expected +
                                          ", got " + format_number(v));
  }

 private:
  Napi::Env env_;
  const double* row_;
  int64_t index_;
};

SampleParams read_row(Napi::Env env, const double* row, int64_t r, int64_t max_logprobs, size_t history_length,
                      size_t bias_length) {
  const RowReader in(env, row, r);
  const double inf = HUGE_VAL, int_max = 2147483647.0;
  SampleParams p{};
  p.temperature = static_cast<float>(in.number(0, "temperature", -inf, inf, false, "a finite number"));
  p.top_k = static_cast<int32_t>(in.integer(1, "top_k", -int_max, int_max, "an int32 (<= 0: off)"));
  p.top_p = static_cast<float>(in.number(2, "top_p", 0.0, 1.0, true, "a number in (0, 1]"));
  p.min_p = static_cast<float>(in.number(3, "min_p", 0.0, 1.0, false, "a number in [0, 1]"));
  p.repetition_penalty = static_cast<float>(in.number(4, "repetition_penalty", 0.0, 1e30, true, "a number > 0"));
  p.presence_penalty = static_cast<float>(in.number(5, "presence_penalty", -1e30, 1e30, false, "a finite number"));
  p.frequency_penalty = static_cast<float>(in.number(6, "frequency_penalty", -1e30, 1e30, false, "a finite number"));
  p.seed = static_cast<uint64_t>(in.integer(7, "seed", 0, kMaxSafeInteger, "an integer in [0, 2^53)"));
  p.counter = in.integer(8, "counter", 0, kMaxSafeInteger, "an integer in [0, 2^53)");
  p.num_logprobs = static_cast<int32_t>(
      in.integer(9, "num_logprobs", 0, static_cast<double>(max_logprobs), ("an integer in [0, maxLogprobs = " +
                                                                            std::to_string(max_logprobs) + "]").c_str()));
  const double hist = static_cast<double>(history_length), bias = static_cast<double>(bias_length);
  p.history_start = static_cast<int32_t>(in.integer(10, "history_start", 0, std::min(hist, int_max), "an index into history"));
  p.num_prompt_history = static_cast<int32_t>(in.integer(11, "num_prompt_history", 0, int_max, "a count >= 0"));
  p.num_output_history = static_cast<int32_t>(in.integer(12, "num_output_history", 0, int_max, "a count >= 0"));
  const double hist_end = static_cast<double>(p.history_start) + p.num_prompt_history + p.num_output_history;
  if (hist_end > hist) {
    in.fail("num_prompt_history + num_output_history",
            "history_start + counts <= history.length = " + std::to_string(history_length), hist_end);
  }
  p.bias_start = static_cast<int32_t>(in.integer(13, "bias_start", 0, std::min(bias, int_max), "an index into the bias arrays"));
  p.num_bias = static_cast<int32_t>(in.integer(14, "num_bias", 0, int_max, "a count >= 0"));
  const double bias_end = static_cast<double>(p.bias_start) + p.num_bias;
  if (bias_end > bias) {
    in.fail("num_bias", "bias_start + num_bias <= bias array length = " + std::to_string(bias_length), bias_end);
  }
  return p;
}

void check_token(Napi::Env env, const char* what, int64_t r, int64_t at, int32_t id, int64_t vocab) {
  if (id < 0 || id >= vocab) {
    throw Napi::RangeError::New(env, std::string(what) + "[" + std::to_string(at) + "] (row " + std::to_string(r) +
                                         "): expected a token id in [0, " + std::to_string(vocab) + "), got " +
                                         std::to_string(id));
  }
}

}  // namespace

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
  std::vector<SampleParams> params(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    SampleParams& p = params[static_cast<size_t>(r)];
    p = read_row(env, packed + r * kSampleParamsStride, r, max_logprobs, history_length, bias_length);
    const int64_t hist_end = int64_t{p.history_start} + p.num_prompt_history + p.num_output_history;
    for (int64_t j = p.history_start; j < hist_end; ++j) check_token(env, "history", r, j, history[j], vocab);
    for (int64_t j = p.bias_start; j < int64_t{p.bias_start} + p.num_bias; ++j) {
      check_token(env, "biasTokenIds", r, j, bias_ids[j], vocab);
      if (std::isnan(bias_values[j]) || bias_values[j] == HUGE_VALF) {
        throw Napi::RangeError::New(env, "biasValues[" + std::to_string(j) + "] (row " + std::to_string(r) +
                                             "): expected a finite number or -Infinity, got " +
                                             format_number(bias_values[j]));
      }
    }
  }
  return params;
}

}  // namespace kv::napi
