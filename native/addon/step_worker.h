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
  StepWorker(Napi::Env env, ModelWrap* model, Napi::Object model_ref, StepInput input, SamplingInput sampling);
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void run();  // forward + sampling; throws on failure

  Napi::Promise::Deferred deferred_;
  ModelWrap* model_;
  Napi::ObjectReference model_ref_;  // keeps the Model alive while the step runs
  StepInput input_;
  SamplingInput sampling_;
  StepOutput& output_;       // the model's reused buffers (one step runs at a time)
  SamplingOutput& sampled_;
  std::vector<float> raw_logits_;
  double compute_ms_ = 0;  // wall time of Execute (the native share of the step)
};

}  // namespace kv::napi
