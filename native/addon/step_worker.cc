#include "step_worker.h"

#include <cstring>

#include "model_wrap.h"
#include "ops/argmax/argmax.h"

namespace kv::napi {

StepWorker::StepWorker(Napi::Env env, ModelWrap* model, Napi::Object model_ref, StepInput input, SamplingInput sampling)
    : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), model_(model),
      model_ref_(Napi::Persistent(model_ref)), input_(std::move(input)), sampling_(std::move(sampling)) {}

void StepWorker::Execute() {
  try {
    KvCache& cache = model_->cache();
    for (size_t i = 0; i < input_.copy_src.size(); ++i) cache.copy_block(input_.copy_src[i], input_.copy_dst[i]);
    LlamaModel& m = model_->model();
    m.forward(input_, cache, model_->pool(), model_->isa(), output_);
    const int64_t rows = input_.num_logits(), vocab = m.config().vocab_size;
    sampled_.token_ids.resize(rows);
    if (rows > 0) KV_CPU_DISPATCH(model_->isa(), argmax_rows_cpu, sampled_.token_ids.data(), output_.logits.data(), rows, vocab);
  } catch (const std::exception& e) {
    SetError(std::string("step failed: ") + e.what());
  }
}

void StepWorker::OnOK() {
  Napi::Env env = Env();
  model_->busy().store(false);
  Napi::Object result = Napi::Object::New(env);
  const size_t rows = sampled_.token_ids.size();
  Napi::Int32Array ids = Napi::Int32Array::New(env, rows);
  if (rows) std::memcpy(ids.Data(), sampled_.token_ids.data(), rows * sizeof(int32_t));
  result.Set("tokenIds", ids);
  if (input_.return_logits) {
    Napi::Float32Array logits = Napi::Float32Array::New(env, output_.logits.size());
    if (!output_.logits.empty()) std::memcpy(logits.Data(), output_.logits.data(), output_.logits.size() * sizeof(float));
    result.Set("logits", logits);
  }
  deferred_.Resolve(result);
}

void StepWorker::OnError(const Napi::Error& error) {
  model_->busy().store(false);
  deferred_.Reject(error.Value());
}

}  // namespace kv::napi
