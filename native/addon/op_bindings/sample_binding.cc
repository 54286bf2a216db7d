// ops.sample: the sampling op for op tests and benches (the engine calls the kernel from its step).
//
//   sample(isa, outTokenIds: Int32Array[rows], outLogprobs: Float32Array[rows],
//          outTopIds: Int32Array[rows * maxLogprobs], outTopLogprobs: Float32Array[rows * maxLogprobs],
//          maxLogprobs, logits: Float32Array[rows * vocab] (modified in place), rows, vocab,
//          params: Float64Array[rows * 15], history: Int32Array, biasTokenIds: Int32Array,
//          biasValues: Float32Array, threads)
//
// params packing: 15 doubles per row in the order of SampleParams (native/ops/sample/sample.h):
//   0 temperature  1 top_k  2 top_p  3 min_p  4 repetition_penalty  5 presence_penalty
//   6 frequency_penalty  7 seed  8 counter  9 num_logprobs  10 history_start  11 num_prompt_history
//   12 num_output_history  13 bias_start  14 num_bias
// seed and counter are integers in [0, 2^53) (a double holds them exactly). lib/runner/
// sample-params-packing.ts writes this layout. Every range, token id and parameter is checked here;
// bad input throws a JS error naming the row and field, and the kernel trusts what passes.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/isa.h"
#include "core/scratch.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "sample_params_parse.h"
#include "ops/sample/sample.h"

namespace kv::napi {

namespace {

// Element count of argument `index`, already checked to be a typed array by typed_array<T>().
size_t typed_array_length(const Napi::CallbackInfo& info, size_t index) {
  return info[index].As<Napi::TypedArray>().ElementLength();
}

// Pool for a requested thread count: the shared op pool when the counts match, else one kept here.
ThreadPool& pool_for(int threads) {
  ThreadPool& shared = op_thread_pool();
  if (shared.num_threads() == threads) return shared;
  static std::unique_ptr<ThreadPool> own;
  if (!own || own->num_threads() != threads) own = std::make_unique<ThreadPool>(threads);
  return *own;
}

Napi::Value Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const int64_t max_logprobs = int_arg(info, 5, "maxLogprobs", 0, kSampleMaxLogprobs);
  const int64_t rows = int_arg(info, 7, "rows", 0, 1 << 20);
  const int64_t vocab = int_arg(info, 8, "vocab", 1, 1 << 24);
  const int threads = static_cast<int>(int_arg(info, 13, "threads", 1, 256));
  int32_t* out_ids = typed_array<int32_t>(info, 1, "outTokenIds", rows);
  float* out_logprobs = typed_array<float>(info, 2, "outLogprobs", rows);
  int32_t* out_top_ids = typed_array<int32_t>(info, 3, "outTopIds", rows * max_logprobs);
  float* out_top_logprobs = typed_array<float>(info, 4, "outTopLogprobs", rows * max_logprobs);
  float* logits = typed_array<float>(info, 6, "logits", rows * vocab);
  const Float64Span packed = float64_array(info, 9, "params", rows * kSampleParamsStride);
  const int32_t* history = typed_array<int32_t>(info, 10, "history", 0);
  const size_t history_length = typed_array_length(info, 10);
  const int32_t* bias_ids = typed_array<int32_t>(info, 11, "biasTokenIds", 0);
  const float* bias_values = typed_array<float>(info, 12, "biasValues", 0);
  const size_t bias_length = std::min(typed_array_length(info, 11), typed_array_length(info, 12));

  const std::vector<SampleParams> params = parse_sample_params(env, packed.data, rows, max_logprobs, history, history_length,
                                                              bias_ids, bias_values, bias_length, vocab);
  static Scratch scratch;  // grows to the largest call, then reused
  KV_CPU_DISPATCH(isa, sample_cpu, out_ids, out_logprobs, max_logprobs > 0 ? out_top_ids : nullptr,
                  max_logprobs > 0 ? out_top_logprobs : nullptr, static_cast<int32_t>(max_logprobs), logits, rows,
                  vocab, params.data(), history, bias_ids, bias_values, pool_for(threads), scratch);
  return env.Undefined();
}

}  // namespace

void register_sample_binding(Napi::Env env, Napi::Object ops) { ops.Set("sample", Napi::Function::New(env, Sample)); }

}  // namespace kv::napi
