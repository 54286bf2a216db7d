// Validation of packed sampling parameters (lib/runner/sample-params-packing.ts layout), shared by
// the sample op binding and Model.step: every range, token id and parameter is checked, so the
// kernel can trust its inputs.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "ops/sample/sample.h"

namespace kv::napi {

struct Float64Span {
  const double* data;
  size_t length;
};

/** Argument `index` as a Float64Array of at least min_length elements. */
Float64Span float64_array(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_length);

/** Unpacks and checks `rows` rows of packed parameters and the history / bias ranges they name. */
std::vector<SampleParams> parse_sample_params(Napi::Env env, const double* packed, int64_t rows, int64_t max_logprobs,
                                              const int32_t* history, size_t history_length, const int32_t* bias_ids,
                                              const float* bias_values, size_t bias_length, int64_t vocab);

}  // namespace kv::napi
