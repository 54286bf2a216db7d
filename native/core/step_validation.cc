#include "core/step_validation.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kv {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

[[noreturn]] void fail(const std::string& message) { throw InputError(message); }

std::string format_number(double v) {
  std::string s = std::to_string(v);
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) s = std::to_string(static_cast<int64_t>(v));
  return s;
}

// Reads and range-checks one packed row.
class RowReader {
 public:
  RowReader(const double* row, int64_t index) : row_(row), index_(index) {}

  double number(int field, const char* name, double lo, double hi, bool lo_open, const char* expected) const {
    const double v = row_[field];
    const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
    if (!ok) fail(name, expected, v);
    return v;
  }

  int64_t integer(int field, const char* name, double lo, double hi, const std::string& expected) const {
    const double v = row_[field];
    if (!(std::isfinite(v) && v == std::floor(v) && v >= lo && v <= hi)) fail(name, expected, v);
    return static_cast<int64_t>(v);
  }

  [[noreturn]] void fail(const char* name, const std::string& expected, double v) const {
    kv::fail("params[row " + std::to_string(index_) + "]." + name + ": expected " + expected + ", got " + format_number(v));
  }

 private:
  const double* row_;
  int64_t index_;
};

SampleParams read_row(const double* row, int64_t r, int64_t max_logprobs, size_t history_length, size_t bias_length) {
  const RowReader in(row, r);
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
  p.num_logprobs = static_cast<int32_t>(in.integer(
      9, "num_logprobs", 0, static_cast<double>(max_logprobs), "an integer in [0, maxLogprobs = " + std::to_string(max_logprobs) + "]"));
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

void check_token(const char* what, int64_t r, int64_t at, int32_t id, int64_t vocab) {
  if (id < 0 || id >= vocab) {
    fail(std::string(what) + "[" + std::to_string(at) + "] (row " + std::to_string(r) + "): expected a token id in [0, " +
         std::to_string(vocab) + "), got " + std::to_string(id));
  }
}

}  // namespace

int64_t step_max_blocks_per_seq(double value) {
  // Checked before any cast: converting NaN, an infinity or an out-of-range double is undefined.
  int64_t out = 0;
  if (!checked_integer(value, 1, 2147483647, &out)) {
    fail("maxBlocksPerSeq: expected an integer in [1, 2147483647], got " + format_number(value));
  }
  return out;
}

void validate_step_input(const StepInput& in, const StepLimits& lim) {
  const int64_t t = in.num_tokens(), s = in.num_seqs();
  const int64_t capacity = lim.num_blocks * lim.block_size;
  if (t == 0) fail("tokenIds: expected at least one token");
  if (static_cast<int64_t>(in.positions.size()) != t) fail("positions: length must equal tokenIds.length");
  if (static_cast<int64_t>(in.slot_mapping.size()) != t) fail("slotMapping: length must equal tokenIds.length");
  if (static_cast<int64_t>(in.query_start_loc.size()) != s + 1) fail("queryStartLoc: length must be seqLens.length + 1");
  if (in.max_blocks_per_seq < 1 || in.max_blocks_per_seq > 2147483647) fail("maxBlocksPerSeq: expected an integer in [1, 2147483647]");
  if (static_cast<int64_t>(in.block_tables.size()) != s * in.max_blocks_per_seq) {
    fail("blockTables: length must be seqLens.length * maxBlocksPerSeq");
  }
  if (in.copy_src.size() != in.copy_dst.size()) fail("copySrc/copyDst: lengths differ");
  for (int64_t i = 0; i < t; ++i) {
    const int32_t id = in.token_ids[i];
    if (id >= lim.vocab_size || (id < 0 && -int64_t{id} > lim.prev_num_logits)) {
      fail("tokenIds[" + std::to_string(i) + "]: expected a token id in [0, " + std::to_string(lim.vocab_size) + ")" +
           (lim.prev_num_logits > 0 ? " or a row of the previous step in [-" + std::to_string(lim.prev_num_logits) + ", -1]" : "") +
           ", got " + std::to_string(id));
    }
    if (in.slot_mapping[i] < -1 || in.slot_mapping[i] >= capacity) {
      fail("slotMapping[" + std::to_string(i) + "]: out of range: " + std::to_string(in.slot_mapping[i]));
    }
    if (in.positions[i] < 0) fail("positions[" + std::to_string(i) + "]: negative");
  }
  {
    // Two tokens storing into one cache slot would leave it to whichever a kernel writes last (the
    // CPU backend writes tokens in parallel): refused.
    thread_local std::vector<int32_t> slots;
    slots.clear();
    for (const int32_t slot : in.slot_mapping) {
      if (slot >= 0) slots.push_back(slot);
    }
    std::sort(slots.begin(), slots.end());
    const auto dup = std::adjacent_find(slots.begin(), slots.end());
    if (dup != slots.end()) fail("slotMapping: slot " + std::to_string(*dup) + " is given to more than one token");
  }
  if (in.query_start_loc[0] != 0 || in.query_start_loc[s] != t) fail("queryStartLoc: must start at 0 and end at the token count");
  for (int64_t q = 0; q < s; ++q) {
    const int64_t len = in.query_start_loc[q + 1] - in.query_start_loc[q];
    const int64_t ctx = in.seq_lens[q];
    if (len < 1) fail("queryStartLoc: sequence " + std::to_string(q) + " has no tokens");
    if (ctx < len) fail("seqLens[" + std::to_string(q) + "]: shorter than its query tokens");
    if ((ctx + lim.block_size - 1) / lim.block_size > in.max_blocks_per_seq) {
      fail("seqLens[" + std::to_string(q) + "]: needs more blocks than maxBlocksPerSeq");
    }
    const int64_t used_blocks = (ctx + lim.block_size - 1) / lim.block_size;
    for (int64_t b = 0; b < used_blocks; ++b) {
      const int32_t id = in.block_tables[q * in.max_blocks_per_seq + b];
      if (id < 0 || id >= lim.num_blocks) {
        fail("blockTables: sequence " + std::to_string(q) + " block " + std::to_string(b) + " id " + std::to_string(id) +
             " out of range");
      }
    }
    // A token's position must lie inside its sequence's context: the kernel reads positions [0, pos].
    for (int64_t i = in.query_start_loc[q]; i < in.query_start_loc[q + 1]; ++i) {
      const int64_t expected = ctx - len + (i - in.query_start_loc[q]);
      if (in.positions[i] != expected) {
        fail("positions[" + std::to_string(i) + "]: expected " + std::to_string(expected) + " (context " +
             std::to_string(ctx) + ", query " + std::to_string(len) + "), got " + std::to_string(in.positions[i]));
      }
    }
  }
  for (size_t i = 0; i < in.logits_indices.size(); ++i) {
    if (in.logits_indices[i] < 0 || in.logits_indices[i] >= t) fail("logitsIndices[" + std::to_string(i) + "]: out of range");
  }
  for (size_t i = 0; i < in.copy_src.size(); ++i) {
    if (in.copy_src[i] < 0 || in.copy_src[i] >= lim.num_blocks || in.copy_dst[i] < 0 || in.copy_dst[i] >= lim.num_blocks) {
      fail("copySrc/copyDst[" + std::to_string(i) + "]: block id out of range");
    }
  }
}

std::vector<SampleParams> check_sample_params(const double* packed, int64_t rows, int64_t max_logprobs,
                                              const int32_t* history, size_t history_length, const int32_t* bias_ids,
                                              const float* bias_values, size_t bias_length, int64_t vocab) {
  std::vector<SampleParams> params(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    SampleParams& p = params[static_cast<size_t>(r)];
    p = read_row(packed + r * kSampleParamsStride, r, max_logprobs, history_length, bias_length);
    const int64_t hist_end = int64_t{p.history_start} + p.num_prompt_history + p.num_output_history;
    for (int64_t j = p.history_start; j < hist_end; ++j) check_token("history", r, j, history[j], vocab);
    for (int64_t j = p.bias_start; j < int64_t{p.bias_start} + p.num_bias; ++j) {
      check_token("biasTokenIds", r, j, bias_ids[j], vocab);
      if (std::isnan(bias_values[j]) || bias_values[j] == HUGE_VALF) {
        fail("biasValues[" + std::to_string(j) + "] (row " + std::to_string(r) +
             "): expected a finite number or -Infinity, got " + format_number(bias_values[j]));
      }
    }
  }
  return params;
}

}  // namespace kv
