// Per-row sampling inputs and outputs of one step (see ops/sample/sample.h for the semantics).
#pragma once
#include <cstdint>
#include <vector>

namespace kv::napi {

struct SamplingInput {
  bool greedy_only = true;  // no sampling parameters given: argmax of every logits row
};

struct SamplingOutput {
  std::vector<int32_t> token_ids;
};

}  // namespace kv::napi
