// The JS `Model` class: owns the mapped weights, the paged KV cache (host memory, or the GPU's with
// device 'cuda' in the CUDA addon) and the thread pool; `step()`
// runs one engine step off the JS thread (StepWorker) and resolves with the sampled tokens.
// Two steps may be in flight: one running and one queued behind it, which starts the moment the
// first ends (no round trip through JS between them) and may take its input tokens from the first
// one's samples (StepLimits::prev_num_logits). Steps run strictly in submission order.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

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
  Scratch& sample_scratch() { return sample_scratch_; }
  // Outputs of a step, kept between steps so a step allocates nothing once they have grown (a 32-row
  // step's logits are 4 MB: fresh pages each step would cost a page fault per 4 KB). Two sets, by
  // ticket parity: a step writes its set while the JS thread still reads the other step's.
  StepOutput& step_output(uint64_t ticket) { return step_outputs_[ticket & 1]; }
  SamplingOutput& sampling_output(uint64_t ticket) { return sampling_outputs_[ticket & 1]; }

  /** Called on the step's worker thread: waits until every earlier step has finished; returns
   * whether the step just before failed, and the tokens it sampled (to resolve continuations). */
  bool wait_turn(uint64_t ticket, std::vector<int32_t>& previous_samples);
  /** Called on the worker thread when a step has finished (ok or not): lets the next one start. */
  void finish_turn(const std::vector<int32_t>& samples, bool failed);
  /** Called on the JS thread when a step's promise settles. */
  void step_settled() { --in_flight_; }
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
  // JS thread only: steps submitted and not yet settled (at most 2), the next ticket, and the logits
  // rows of the last submitted step (what a continuation may refer to, settled or not: steps run in
  // submission order, so it is the step that ran just before).
  int in_flight_ = 0;
  uint64_t next_ticket_ = 0;
  int64_t last_submitted_logits_ = 0;
  // Worker threads: the turn (tickets finished so far) and what the last finished step left.
  std::mutex turn_mutex_;
  std::condition_variable turn_cv_;
  uint64_t turn_ = 0;
  bool last_failed_ = false;
  std::vector<int32_t> last_samples_;
  Scratch sample_scratch_;
  StepOutput step_outputs_[2];
  SamplingOutput sampling_outputs_[2];
  bool closed_ = false;
};

}  // namespace kv::napi
