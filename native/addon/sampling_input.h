// Per-row sampling inputs and outputs of one step (see ops/sample/sample.h for the semantics).
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "ops/sample/sample.h"

namespace kv::napi {

struct SamplingInput {
  bool present = false;  // false: argmax of every logits row
  std::vector<SampleParams> params;
  std::vector<int32_t> history;
  std::vector<int32_t> bias_token_ids;
  std::vector<float> bias_values;
  int32_t max_logprobs = 0;
};

struct SamplingOutput {
  std::vector<int32_t> token_ids;
  std::vector<float> logprobs;
  std::vector<int32_t> top_ids;
  std::vector<float> top_logprobs;
};

/** Reads step.sampling ({ params, history, biasTokenIds, biasValues, maxLogprobs }) for `rows` logits rows. */
SamplingInput parse_sampling_input(const Napi::Value& value, int64_t rows, int64_t vocab);

}  // namespace kv::napi
