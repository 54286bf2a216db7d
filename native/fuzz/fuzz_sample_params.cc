// libFuzzer target: the packed sampling-parameter checks (core/step_validation.cc,
// check_sample_params) that guard the sample kernel. Property: check_sample_params either throws
// kv::InputError or accepts parameters on which sample_cpu runs (history and bias ranges read, top-k /
// top-p / min-p / penalties / logprobs applied) with no out-of-bounds access and no undefined
// behaviour, in every kernel variant this CPU runs, and returns token ids inside the vocabulary.
//
// Input layout (fuzz_input.h): u8 rows, u8 vocab (each mod a small range), f64 max_logprobs (a JS
// number), f64 params[rows * 15], u16 history length + i32 history, u16 bias length + i32 ids +
// f32 values, f32 logits[rows * vocab].
#include <cmath>
#include <vector>

#include "core/isa.h"
#include "core/scratch.h"
#include "core/step_validation.h"
#include "core/thread_pool.h"
#include "fuzz/fuzz_input.h"
#include "ops/sample/sample.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kv::fuzz::Input in(data, size);
  const int64_t rows = in.read<uint8_t>() % 9;
  const int64_t vocab = 1 + in.read<uint8_t>() % 96;
  const double max_logprobs_number = in.read<double>();
  const std::vector<double> packed = in.array<double>(static_cast<size_t>(rows * kv::kSampleParamsStride));
  const std::vector<int32_t> history = in.array<int32_t>(in.read<uint16_t>() % 513);
  const size_t num_bias = in.read<uint16_t>() % 129;
  const std::vector<int32_t> bias_ids = in.array<int32_t>(num_bias);
  const std::vector<float> bias_values = in.array<float>(num_bias);
  const std::vector<float> logits = in.array<float>(static_cast<size_t>(rows * vocab));

  // maxLogprobs is checked by the addon before the rows (sampling_input.cc / sample_binding.cc).
  int64_t max_logprobs = 0;
  if (!kv::checked_integer(max_logprobs_number, 0, kv::kSampleMaxLogprobs, &max_logprobs)) return 0;
  std::vector<kv::SampleParams> params;
  try {
    params = kv::check_sample_params(packed.data(), rows, max_logprobs, history.data(), history.size(), bias_ids.data(),
                                     bias_values.data(), num_bias, vocab);
  } catch (const kv::InputError&) {
    return 0;
  }
  static kv::ThreadPool pool(1);
  static kv::Scratch scratch;
  for (kv::Isa isa : {kv::Isa::Portable, kv::Isa::Avx2, kv::Isa::Avx512}) {
    if (!kv::isa_supported(isa)) continue;
    std::vector<float> work = logits;  // the kernel modifies logits in place
    std::vector<int32_t> ids(static_cast<size_t>(rows), -7);
    std::vector<float> logprobs(static_cast<size_t>(rows));
    std::vector<int32_t> top_ids(static_cast<size_t>(rows * max_logprobs));
    std::vector<float> top_logprobs(top_ids.size());
    KV_CPU_DISPATCH(isa, sample_cpu, ids.data(), logprobs.data(), max_logprobs > 0 ? top_ids.data() : nullptr,
                    max_logprobs > 0 ? top_logprobs.data() : nullptr, static_cast<int32_t>(max_logprobs), work.data(), rows,
                    vocab, params.data(), history.data(), bias_ids.data(), bias_values.data(), pool, scratch);
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab) kv::fuzz::oracle_failure(std::string("sample_cpu (") + kv::isa_name(isa) + ") returned token id " + std::to_string(id));
    }
    for (int32_t id : top_ids) {
      if (id < -1 || id >= vocab) kv::fuzz::oracle_failure("sample_cpu returned top id " + std::to_string(id));
    }
  }
  return 0;
}
