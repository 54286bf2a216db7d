#include "step_worker.h"

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "model_wrap.h"
#include "ops/argmax/argmax.h"
#include "ops/sample/sample.h"

namespace kv::napi {

namespace {

Napi::Float32Array to_float32(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

Napi::Float64Array to_float64(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

Napi::Object profile_object(Napi::Env env, const StepProfile& p) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array layer_ops = Napi::Array::New(env, StepProfile::kLayerOps);
  for (int i = 0; i < StepProfile::kLayerOps; ++i) layer_ops.Set(i, layer_op_name(i));
  Napi::Array step_ops = Napi::Array::New(env, StepProfile::kStepOps);
  for (int i = 0; i < StepProfile::kStepOps; ++i) step_ops.Set(i, step_op_name(i));
  o.Set("layerOps", layer_ops);
  o.Set("stepOps", step_ops);
  o.Set("layerNs", to_float64(env, p.layer_ns()));
  o.Set("stepNs", to_float64(env, p.step_ns()));
  o.Set("layerCpuNs", to_float64(env, p.layer_cpu_ns()));
  o.Set("stepCpuNs", to_float64(env, p.step_cpu_ns()));
  return o;
}

}  // namespace

StepWorker::StepWorker(Napi::Env env, ModelWrap* model, Napi::Object model_ref, StepInput input, SamplingInput sampling,
                       uint64_t ticket)
    : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), model_(model),
      model_ref_(Napi::Persistent(model_ref)), input_(std::move(input)), sampling_(std::move(sampling)), ticket_(ticket),
      output_(model->step_output(ticket)), sampled_(model->sampling_output(ticket)) {}

#if KV_WITH_CUDA
// The whole step on the GPU: one upload, forward, sampling (or argmax), one download.
static void run_cuda_step(cuda::CudaLlamaModel& gpu, const StepInput& input, const SamplingInput& sampling,
                          SamplingOutput& sampled, StepOutput& output, std::vector<float>& raw_logits) {
  cuda::SamplingArrays arrays;
  if (sampling.present) {
    arrays.params = sampling.params.data();
    arrays.history = sampling.history.data();
    arrays.history_len = static_cast<int64_t>(sampling.history.size());
    arrays.bias_token_ids = sampling.bias_token_ids.data();
    arrays.bias_values = sampling.bias_values.data();
    arrays.bias_len = static_cast<int64_t>(sampling.bias_token_ids.size());
    arrays.max_logprobs = sampling.max_logprobs;
  }
  cuda::CudaStepResult r;
  gpu.step(input, sampling.present ? &arrays : nullptr, r);
  sampled.token_ids = std::move(r.token_ids);
  sampled.logprobs = std::move(r.logprobs);
  sampled.top_ids = std::move(r.top_ids);
  sampled.top_logprobs = std::move(r.top_logprobs);
  (sampling.present ? raw_logits : output.logits) = std::move(r.logits);
}
#endif

void StepWorker::resolve_continuation(bool previous_failed, const std::vector<int32_t>& previous_samples) {
  for (int32_t& id : input_.token_ids) {
    if (id >= 0) continue;
    if (previous_failed) throw std::runtime_error("the step it continues failed, so the tokens it refers to are unknown");
    const size_t row = static_cast<size_t>(-int64_t{id} - 1);
    if (row >= previous_samples.size()) throw std::runtime_error("tokenIds refer to a row the previous step did not sample");
    id = previous_samples[row];
  }
}

void StepWorker::Execute() {
  const bool previous_failed = model_->wait_turn(ticket_, previous_samples_);
  // A queued step starts the moment the one before it ends, when the JS thread has just been woken to
  // take that step's results: on a machine whose cores the compute threads fill, let it run first
  // (~0.2 ms) rather than after this step's time slice, which would deliver the tokens a step late.
  std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  bool failed = false;
  try {
    resolve_continuation(previous_failed, previous_samples_);
    run();
  } catch (const std::exception& e) {
    SetError(std::string("step failed: ") + e.what());
    failed = true;
  }
  compute_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  // The samples are read (by the next step, and by OnOK) before this ticket parity's buffers are
  // written again: a third step is only submitted once this one's promise has settled.
  model_->finish_turn(sampled_.token_ids, failed);
}

void StepWorker::run() {
  StepProfile& prof = output_.profile;
#if KV_WITH_CUDA
  if (cuda::CudaLlamaModel* gpu = model_->cuda()) {
    prof.start(false, 0);  // the per-op profile times CPU kernels only
    run_cuda_step(*gpu, input_, sampling_, sampled_, output_, raw_logits_);
    return;
  }
#endif
  KvCache& cache = model_->cache();
  LlamaModel& m = model_->model();
  prof.start(input_.profile, m.config().num_layers);
  for (size_t i = 0; i < input_.copy_src.size(); ++i) cache.copy_block(input_.copy_src[i], input_.copy_dst[i]);
  prof.lap(StepOp::KvCopy);
  m.forward(input_, cache, model_->pool(), model_->isa(), output_);
  const int64_t rows = input_.num_logits(), vocab = m.config().vocab_size;
  sampled_.token_ids.resize(rows);
  if (rows == 0) return;
  if (!sampling_.present) {
    KV_CPU_DISPATCH(model_->isa(), argmax_rows_cpu, sampled_.token_ids.data(), output_.logits.data(), rows, vocab);
    prof.lap(StepOp::Sample);
    return;
  }
  // Sampling modifies logits in place; keep the raw ones when the caller asked for them.
  if (input_.return_logits) raw_logits_ = output_.logits;
  const int32_t k = sampling_.max_logprobs;
  sampled_.logprobs.resize(rows);
  sampled_.top_ids.resize(rows * k);
  sampled_.top_logprobs.resize(rows * k);
  KV_CPU_DISPATCH(model_->isa(), sample_cpu, sampled_.token_ids.data(), sampled_.logprobs.data(),
                  k > 0 ? sampled_.top_ids.data() : nullptr, k > 0 ? sampled_.top_logprobs.data() : nullptr, k,
                  output_.logits.data(), rows, vocab, sampling_.params.data(), sampling_.history.data(),
                  sampling_.bias_token_ids.data(), sampling_.bias_values.data(), model_->pool(), model_->sample_scratch());
  prof.lap(StepOp::Sample);
}

void StepWorker::OnOK() {
  Napi::Env env = Env();
  model_->step_settled();
  Napi::Object result = Napi::Object::New(env);
  const size_t rows = sampled_.token_ids.size();
  Napi::Int32Array ids = Napi::Int32Array::New(env, rows);
  if (rows) std::memcpy(ids.Data(), sampled_.token_ids.data(), rows * sizeof(int32_t));
  result.Set("tokenIds", ids);
  result.Set("computeMs", compute_ms_);
  if (input_.profile && output_.profile.on()) result.Set("profile", profile_object(env, output_.profile));
  if (input_.return_logits) {
    const std::vector<float>& raw = sampling_.present ? raw_logits_ : output_.logits;
    result.Set("logits", to_float32(env, raw));
  }
  if (sampling_.present) {
    result.Set("logprobs", to_float32(env, sampled_.logprobs));
    if (sampling_.max_logprobs > 0) {
      Napi::Int32Array top = Napi::Int32Array::New(env, sampled_.top_ids.size());
      if (!sampled_.top_ids.empty()) std::memcpy(top.Data(), sampled_.top_ids.data(), sampled_.top_ids.size() * sizeof(int32_t));
      result.Set("topIds", top);
      result.Set("topLogprobs", to_float32(env, sampled_.top_logprobs));
    }
  }
  deferred_.Resolve(result);
}

void StepWorker::OnError(const Napi::Error& error) {
  model_->step_settled();
  deferred_.Reject(error.Value());
}

}  // namespace kv::napi
