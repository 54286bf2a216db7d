// The JS `Model` class: owns the mapped weights, the paged KV cache (host memory, or the GPU's with
// device 'cuda' in the CUDA addon) and the thread pool; `step()`
// runs one engine step off the JS thread (StepWorker) and resolves with the sampled tokens.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "core/isa.h"
#include "core/kv_cache.h"
#include "core/scratch.h"
#include "core/thread_pool.h"
#include "models/llama.h"
#include "sampling_input.h"
#if KV_WITH_CUDA
#include "backends/cuda/cuda_llama.h"
#endif

namespace kv::napi {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

  LlamaModel& model() { return *model_; }
  KvCache& cache() { return *cache_; }
  ThreadPool& pool() { return *pool_; }
  Isa isa() const { return isa_; }
  std::atomic<bool>& busy() { return busy_; }
  Scratch& sample_scratch() { return sample_scratch_; }
  // Outputs of the running step, kept between steps so a step allocates nothing once they have grown
  // (a 32-row step's logits are 4 MB: fresh pages each step would cost a page fault per 4 KB).
  StepOutput& step_output() { return step_output_; }
  SamplingOutput& sampling_output() { return sampling_output_; }
  int64_t kv_num_blocks() const;
  int64_t kv_block_size() const;
#if KV_WITH_CUDA
  /** The CUDA backend when the model was created with device 'cuda' (the KV cache is on the GPU). */
  cuda::CudaLlamaModel* cuda() { return cuda_.get(); }
#endif

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<KvCache> cache_;  // device 'cpu' only
#if KV_WITH_CUDA
  std::unique_ptr<cuda::CudaLlamaModel> cuda_;
#endif
  std::unique_ptr<ThreadPool> pool_;
  Isa isa_ = Isa::Portable;
  int64_t packed_bytes_ = 0;  // weight bytes copied into packed layouts at load
  std::atomic<bool> busy_{false};
  Scratch sample_scratch_;
  StepOutput step_output_;
  SamplingOutput sampling_output_;
  bool closed_ = false;
};

}  // namespace kv::napi
