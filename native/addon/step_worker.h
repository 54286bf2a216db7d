// Runs one forward step + sampling on a libuv worker thread; the JS thread stays free.
#pragma once
#include <napi.h>

#include "core/step_input.h"
#include "models/llama.h"
#include "sampling_input.h"

namespace kv::napi {

class ModelWrap;

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, ModelWrap* model, Napi::Object model_ref, StepInput input, SamplingInput sampling, uint64_t ticket);
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void run();  // forward + sampling; throws on failure
  // Replaces each token id -(r + 1) with the token the previous step sampled at row r.
  void resolve_continuation(bool previous_failed, const std::vector<int32_t>& previous_samples);

  Napi::Promise::Deferred deferred_;
  ModelWrap* model_;
  Napi::ObjectReference model_ref_;  // keeps the Model alive while the step runs
  StepInput input_;
  SamplingInput sampling_;
  uint64_t ticket_;          // submission order; steps run in this order
  StepOutput& output_;       // the model's reused buffers of this ticket's parity
  SamplingOutput& sampled_;
  std::vector<int32_t> previous_samples_;
  std::vector<float> raw_logits_;
  double compute_ms_ = 0;  // wall time of Execute (the native share of the step)
};

}  // namespace kv::napi
