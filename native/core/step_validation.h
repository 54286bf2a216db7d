// Pure checks of one engine step's inputs against the model's limits: the StepInput arrays and the
// packed per-row sampling parameters. The N-API layer (native/addon) copies JS values into plain
// arrays and calls these; a violation throws kv::InputError naming the field, which the addon turns
// into a JS RangeError. Plain C++ with no Node dependency, so the libFuzzer harness in native/fuzz
// runs exactly this code. What passes is what the kernels trust (their headers list the invariants).
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/checked_number.h"
#include "core/step_input.h"
#include "ops/sample/sample.h"

namespace kv {

/** Bad caller input (not an internal fault): the message names the field, the expected and the actual value. */
class InputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct StepLimits {
  int64_t vocab_size;
  int64_t num_blocks;
  int64_t block_size;
  // Logits rows of the step submitted just before this one (0: none). A token id -(r + 1), r below
  // this, stands for the token that step samples at row r: the step continues a step still in flight.
  int64_t prev_num_logits = 0;
};

/** step.maxBlocksPerSeq as the addon receives it (a JS number). Throws InputError unless an integer >= 1. */
int64_t step_max_blocks_per_seq(double value);

/** Checks every invariant the forward pass relies on. Messages start with the field ("tokenIds: ..."). */
void validate_step_input(const StepInput& in, const StepLimits& limits);

/**
 * Unpacks and checks `rows` rows of packed sampling parameters (kSampleParamsStride doubles each) and
 * the history / bias ranges they name. Messages look like "params[row 1].top_p: expected ..., got 0".
 */
std::vector<SampleParams> check_sample_params(const double* packed, int64_t rows, int64_t max_logprobs,
                                              const int32_t* history, size_t history_length, const int32_t* bias_ids,
                                              const float* bias_values, size_t bias_length, int64_t vocab);

}  // namespace kv
