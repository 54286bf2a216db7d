// sample_cuda against sample_cpu (portable variant): the same rows (greedy, temperature, top-k below and
// above the CPU's heap limit, top-p, min-p and their combinations, penalties with repeated history,
// logit bias with duplicates and bans, raw logprobs with top-n, NaN / inf / all -inf rows, ties) must
// give the same tokens, the same processed logits bit for bit, and logprobs within 1e-6. The hash that
// drives the race is checked against the CPU's, and results must not depend on the batch around a row.
// kv-emu-sources: native/ops/sample/sample_cuda.cu native/ops/sample/sample_cpu.cc native/ops/sample/sample_vec_cpu.cc native/core/thread_pool.cc
#include <algorithm>

#include "core/scratch.h"
#include "core/thread_pool.h"
#include "harness.h"
#include "ops/sample/sample.h"
#include "ops/sample/sample_cuda.cuh"
#include "ops/sample/sample_cuda.h"
#include "ops/sample/sample_internal.h"

namespace {

using kv::SampleParams;

struct Batch {
  int64_t vocab = 0;
  std::vector<float> logits;
  std::vector<SampleParams> params;
  std::vector<int32_t> history, bias_ids;
  std::vector<float> bias_values;
  int32_t max_logprobs = 0;
  int64_t max_saved = 1;
};

struct Result {
  std::vector<int32_t> ids, top_ids;
  std::vector<float> logprobs, top_logprobs, logits;
};

SampleParams defaults() {
  SampleParams p{};
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repetition_penalty = 1.0f;
  p.seed = 1234;
  return p;
}

// Appends a row: logits from `random` (some values repeated to make ties), its params and history.
void add_row(Batch& b, kvtest::Rng& rng, SampleParams p, const std::vector<int32_t>& prompt,
             const std::vector<int32_t>& output, const std::vector<std::pair<int32_t, float>>& bias, float spread) {
  for (int64_t i = 0; i < b.vocab; ++i) b.logits.push_back(rng.uniform(-spread, spread));
  float* row = b.logits.data() + b.logits.size() - b.vocab;
  for (int64_t i = 0; i + 1 < b.vocab; i += 7) row[i + 1] = row[i];  // ties: the lower id must win
  p.history_start = static_cast<int32_t>(b.history.size());
  p.num_prompt_history = static_cast<int32_t>(prompt.size());
  p.num_output_history = static_cast<int32_t>(output.size());
  b.history.insert(b.history.end(), prompt.begin(), prompt.end());
  b.history.insert(b.history.end(), output.begin(), output.end());
  p.bias_start = static_cast<int32_t>(b.bias_ids.size());
  p.num_bias = static_cast<int32_t>(bias.size());
  for (const auto& [id, v] : bias) {
    b.bias_ids.push_back(id);
    b.bias_values.push_back(v);
  }
  b.max_logprobs = std::max(b.max_logprobs, p.num_logprobs);
  b.max_saved = std::max<int64_t>(b.max_saved, int64_t{p.num_bias} + p.num_prompt_history + p.num_output_history);
  b.params.push_back(p);
}

Result run_cpu(Batch b) {
  const int64_t rows = static_cast<int64_t>(b.params.size());
  Result r;
  r.ids.resize(rows);
  r.logprobs.resize(rows);
  r.top_ids.resize(std::max<int64_t>(1, rows * b.max_logprobs));
  r.top_logprobs.resize(r.top_ids.size());
  kv::ThreadPool pool(1);
  kv::Scratch scratch;
  const bool top = b.max_logprobs > 0;
  kv::cpu_portable::sample_cpu(r.ids.data(), r.logprobs.data(), top ? r.top_ids.data() : nullptr,
                               top ? r.top_logprobs.data() : nullptr, b.max_logprobs, b.logits.data(), rows, b.vocab,
                               b.params.data(), b.history.data(), b.bias_ids.data(), b.bias_values.data(), pool, scratch);
  r.logits = b.logits;
  return r;
}

template <typename T>
std::vector<T> nonempty(std::vector<T> v) {
  if (v.empty()) v.push_back(T());
  return v;
}

Result run_cuda(const Batch& b) {
  const int64_t rows = static_cast<int64_t>(b.params.size());
  kvtest::DeviceBuffer<float> logits(b.logits);
  kvtest::DeviceBuffer<SampleParams> params(b.params);
  kvtest::DeviceBuffer<int32_t> history(nonempty(b.history)), bias_ids(nonempty(b.bias_ids));
  kvtest::DeviceBuffer<float> bias_values(nonempty(b.bias_values));
  kvtest::DeviceBuffer<int32_t> ids(rows), top_ids(std::max<int64_t>(1, rows * b.max_logprobs));
  kvtest::DeviceBuffer<float> logprobs(rows), top_logprobs(std::max<int64_t>(1, rows * b.max_logprobs));
  kvtest::DeviceBuffer<uint8_t> ws(kv::cuda::sample_cuda_workspace_bytes(rows, b.vocab, b.max_saved));
  const bool top = b.max_logprobs > 0;
  kv::cuda::sample_cuda(ids.get(), logprobs.get(), top ? top_ids.get() : nullptr, top ? top_logprobs.get() : nullptr,
                        b.max_logprobs, logits.get(), rows, b.vocab, params.get(), history.get(), bias_ids.get(),
                        bias_values.get(), b.max_saved, ws.get(), nullptr);
  Result r;
  r.ids = ids.download();
  r.logprobs = logprobs.download();
  r.top_ids = top_ids.download();
  r.top_logprobs = top_logprobs.download();
  r.logits = logits.download();
  return r;
}

bool close(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= 1e-6f; }

void compare(const Batch& b, const char* what) {
  const Result want = run_cpu(b), got = run_cuda(b);
  const size_t rows = b.params.size();
  for (size_t r = 0; r < rows; ++r) {
    KV_EXPECT(got.ids[r] == want.ids[r], "%s row %zu: token %d, the CPU kernel chose %d", what, r, got.ids[r], want.ids[r]);
    KV_EXPECT(close(got.logprobs[r], want.logprobs[r]), "%s row %zu: logprob %.9g vs %.9g", what, r, got.logprobs[r],
              want.logprobs[r]);
    for (int32_t j = 0; j < b.max_logprobs; ++j) {
      const size_t o = r * b.max_logprobs + j;
      KV_EXPECT(got.top_ids[o] == want.top_ids[o] && close(got.top_logprobs[o], want.top_logprobs[o]),
                "%s row %zu top %d: (%d, %.9g) vs (%d, %.9g)", what, r, j, got.top_ids[o], got.top_logprobs[o],
                want.top_ids[o], want.top_logprobs[o]);
    }
  }
  const int64_t at = kvtest::first_bit_difference(got.logits, want.logits);
  KV_EXPECT(at < 0, "%s: processed logit %lld is %.9g, the CPU kernel's %.9g", what, (long long)at,
            at < 0 ? 0.0 : got.logits[at], at < 0 ? 0.0 : want.logits[at]);
}

KV_TEST(sample_hash_matches_cpu) {
  kvtest::Rng rng(30);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t seed = rng.engine()(), counter = rng.engine()() % 100000;
    const uint32_t token = static_cast<uint32_t>(rng.engine()());
    const uint64_t key = kv::cuda::sample::row_key(seed, counter);
    KV_EXPECT(key == kv::sample_detail::row_key(seed, counter), "row_key differs");
    KV_EXPECT(kv::cuda::sample::token_bits(key, token) == kv::sample_detail::token_bits(key, token), "token_bits differs");
  }
}

KV_TEST(sample_filters_match_cpu) {
  kvtest::Rng rng(31);
  for (int64_t vocab : {1, 7, 1000, 32000}) {
    Batch b;
    b.vocab = vocab;
    for (int k = 0; k < 14; ++k) {
      SampleParams p = defaults();
      p.seed = 100 + k;
      p.counter = k * 3;
      switch (k) {
        case 0: p.temperature = 0.0f; break;                  // greedy
        case 1: p.temperature = 0.7f; break;                  // plain draw
        case 2: p.top_k = 1; break;
        case 3: p.top_k = 5; p.temperature = 1.3f; break;
        case 4: p.top_k = 3000; break;                        // past the CPU's heap limit
        case 5: p.top_p = 0.5f; break;
        case 6: p.top_p = 0.9f; p.temperature = 2.0f; break;
        case 7: p.top_p = 0.999f; break;
        case 8: p.min_p = 0.05f; break;
        case 9: p.top_k = 40; p.top_p = 0.8f; p.min_p = 0.02f; break;
        case 10: p.top_p = 0.7f; p.min_p = 0.3f; break;
        case 11: p.top_k = 50; p.min_p = 0.1f; p.num_logprobs = 20; break;
        case 12: p.num_logprobs = 5; p.temperature = 0.0f; break;
        default: p.temperature = 1e-6f; break;               // below the greedy threshold
      }
      add_row(b, rng, p, {}, {}, {}, k % 2 ? 8.0f : 3.0f);
    }
    compare(b, ("vocab " + std::to_string(vocab)).c_str());
  }
}

// Many draws (counters) per filter setting over a flat distribution: a draw from outside the kept set, or
// a kept token left out, shows in some of them.
KV_TEST(sample_filters_decide_many_draws_as_cpu) {
  kvtest::Rng rng(34);
  Batch b;
  b.vocab = 300;
  for (int config = 0; config < 6; ++config) {
    for (int counter = 0; counter < 48; ++counter) {
      SampleParams p = defaults();
      p.temperature = 1.5f;
      p.counter = counter;
      p.seed = 99;
      switch (config) {
        case 0: p.top_k = 20; break;
        case 1: p.top_p = 0.6f; break;
        case 2: p.min_p = 0.1f; break;
        case 3: p.top_k = 50; p.top_p = 0.7f; break;
        case 4: p.top_p = 0.5f; p.min_p = 0.2f; break;
        default: p.top_k = 30; p.min_p = 0.05f; break;
      }
      add_row(b, rng, p, {}, {}, {}, 4.0f);
      if (counter > 0) {  // the same logits for every counter of a setting
        std::copy(b.logits.end() - 2 * b.vocab, b.logits.end() - b.vocab, b.logits.end() - b.vocab);
      }
    }
  }
  compare(b, "many draws");
}

KV_TEST(sample_penalties_bias_and_odd_logits_match_cpu) {
  kvtest::Rng rng(32);
  Batch b;
  b.vocab = 500;
  SampleParams p = defaults();
  p.repetition_penalty = 1.3f;
  p.num_logprobs = 3;
  add_row(b, rng, p, {1, 2, 3, 2, 400}, {5, 5, 6, 1}, {}, 4.0f);  // repetition over prompt + output
  p = defaults();
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.3f;
  p.temperature = 0.0f;
  add_row(b, rng, p, {7, 8}, {9, 9, 9, 10, 7}, {}, 4.0f);  // output-only penalties; greedy
  p = defaults();
  p.repetition_penalty = 0.8f;
  p.presence_penalty = -0.2f;
  p.top_k = 10;
  add_row(b, rng, p, {11}, {11, 12, 12}, {{11, 2.0f}, {13, -INFINITY}, {11, 0.5f}}, 4.0f);  // bias + penalty on one token
  p = defaults();
  p.temperature = 0.0f;
  p.num_logprobs = 2;
  add_row(b, rng, p, {}, {}, {{42, 100.0f}}, 4.0f);  // bias forces a token (and moves the max)
  p = defaults();
  add_row(b, rng, p, {}, {}, {{0, 3e38f}, {0, 3e38f}}, 4.0f);  // saturates at FLT_MAX
  for (int counter = 0; counter < 16; ++counter) {  // a bias that moves the max, under min-p: the cut
    p = defaults();                                 // follows the biased max (many draws show it)
    p.min_p = 0.3f;
    p.counter = counter;
    add_row(b, rng, p, {}, {}, {{300, 2.0f}}, 4.0f);
    if (counter > 0) std::copy(b.logits.end() - 2 * b.vocab, b.logits.end() - b.vocab, b.logits.end() - b.vocab);
    else b.logits[b.logits.size() - b.vocab + 300] = 3.9f;
  }
  for (int counter = 0; counter < 16; ++counter) {  // a penalty that demotes the max, under min-p: the cut
    p = defaults();                                 // follows the new max
    p.repetition_penalty = 3.0f;
    p.min_p = 0.3f;
    p.counter = counter;
    add_row(b, rng, p, {250}, {}, {}, 4.0f);
    if (counter > 0) std::copy(b.logits.end() - 2 * b.vocab, b.logits.end() - b.vocab, b.logits.end() - b.vocab);
    else b.logits[b.logits.size() - b.vocab + 250] = 6.0f;
  }
  compare(b, "penalties and bias");

  Batch odd;
  odd.vocab = 64;
  p = defaults();
  p.num_logprobs = 4;
  add_row(odd, rng, p, {}, {}, {}, 2.0f);
  odd.logits[3] = NAN;
  odd.logits[5] = INFINITY;
  odd.logits[6] = INFINITY;
  add_row(odd, rng, p, {}, {}, {}, 2.0f);
  for (int64_t i = 0; i < odd.vocab; ++i) odd.logits[odd.vocab + i] = -INFINITY;  // no distribution: NaN logprobs
  p.top_p = 0.5f;
  add_row(odd, rng, p, {}, {}, {}, 2.0f);
  for (int64_t i = 0; i < odd.vocab; ++i) odd.logits[2 * odd.vocab + i] = i % 2 ? -INFINITY : 1.0f;  // banned half
  compare(odd, "odd logits");
}

KV_TEST(sample_rows_do_not_depend_on_the_batch) {
  kvtest::Rng rng(33);
  Batch b;
  b.vocab = 3000;
  for (int k = 0; k < 6; ++k) {
    SampleParams p = defaults();
    p.top_p = 0.9f;
    p.top_k = k * 20;
    p.repetition_penalty = k % 2 ? 1.2f : 1.0f;
    p.seed = 7;
    p.counter = k;
    add_row(b, rng, p, {1, 2, 3}, {4, 5}, {}, 5.0f);
  }
  const Result all = run_cuda(b);
  for (size_t r = 0; r < b.params.size(); ++r) {
    Batch one;
    one.vocab = b.vocab;
    one.logits.assign(b.logits.begin() + r * b.vocab, b.logits.begin() + (r + 1) * b.vocab);
    one.params = {b.params[r]};
    one.params[0].history_start = 0;
    one.history.assign(b.history.begin() + b.params[r].history_start,
                       b.history.begin() + b.params[r].history_start + b.params[r].num_prompt_history +
                           b.params[r].num_output_history);
    one.max_saved = b.max_saved;
    const Result alone = run_cuda(one);
    KV_EXPECT(alone.ids[0] == all.ids[r] && alone.logprobs[0] == all.logprobs[r], "row %zu alone: %d vs %d in the batch",
              r, alone.ids[0], all.ids[r]);
  }
  const Result again = run_cuda(b);
  KV_EXPECT(again.ids == all.ids && again.logprobs == all.logprobs, "a second run differs");
}

}  // namespace

KV_TEST_MAIN()
