// The LLaMA family (Llama 2/3, Mistral, Qwen2, Qwen3) as an ordered list of op calls on a backend's
// op table (core/backend_ops.h): llama_forward runs unchanged on the CPU and CUDA backends.
// Variants differ only in flags: qkv bias (Qwen2), per-head q/k RMSNorm (Qwen3), RoPE layout and
// frequency scaling, tied embeddings.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/backend_ops.h"
#include "core/isa.h"
#include "core/kv_cache.h"
#include "core/scratch.h"
#include "core/step_input.h"
#include "core/step_profile.h"
#include "core/thread_pool.h"
#include "core/weight.h"
#include "core/weights.h"

namespace kv {

struct LlamaConfig {
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  float rms_norm_eps = 1e-5f;
  double rope_theta = 10000.0;
  int64_t rope_dim = 0;
  int32_t rope_layout = 0;  // 0 = adjacent pairs (GGUF llama), 1 = rotate halves (HF / neox)
  float rope_position_scale = 1.0f;  // linear scaling: 1 / factor
  bool llama3_scaling = false;
  double llama3_factor = 1, llama3_low_freq_factor = 1, llama3_high_freq_factor = 4, llama3_original_max_position = 8192;
  bool qkv_bias = false;
  bool attn_output_bias = false;  // HF attention_bias=true on llama/qwen3 also biases o_proj
  bool qk_norm = false;
  bool tied_embeddings = false;
};

struct StepOutput {
  std::vector<float> logits;  // [num_logits, vocab], filled for every logits row (sampling reads it)
  StepProfile profile;        // per-op times when the step input asked for them
};

/** The tensors of one layer, bound and shape-checked (in the memory of the backend that runs them). */
struct LlamaLayer {
  const float* attn_norm = nullptr;
  WeightView wq, wk, wv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr;
  const float* ffn_norm = nullptr;
  WeightView w_gate, w_up, w_down;
};

/** Every tensor the forward pass reads: host views of the mapped files (CPU) or their device copies (CUDA). */
struct LlamaTensors {
  std::vector<LlamaLayer> layers;
  const void* token_embd = nullptr;  // [vocab, hidden] in token_embd_dtype
  DType token_embd_dtype = DType::F32;
  WeightView output;                 // [vocab, hidden]
  const float* output_norm = nullptr;
  const float* inv_freq = nullptr;   // [rope_dim / 2]
};

/** The activations of one step, in the backend's memory, each sized for the step's tokens / logits rows. */
struct LlamaActivations {
  float *x, *h, *q, *k, *v, *attn, *gate, *up;  // [tokens, hidden | q dim | kv dim | ffn]
  float* rows;                                   // [logits rows, hidden]
  float* logits;                                 // [logits rows, vocab]
};

/** One step's inputs in the backend's memory, plus the host-side counts. */
struct LlamaStepArgs {
  int64_t num_tokens = 0;
  int64_t num_logits = 0;
  const int32_t* token_ids = nullptr;       // [num_tokens]
  const int32_t* positions = nullptr;       // [num_tokens]
  const int32_t* slot_mapping = nullptr;    // [num_tokens]
  const int32_t* logits_indices = nullptr;  // [num_logits]
  AttentionBatch batch;
  void* const* k_cache = nullptr;  // [num_layers] per-layer K blocks
  void* const* v_cache = nullptr;  // [num_layers]
  DType kv_dtype = DType::F32;
  int64_t block_size = 0;
  StepProfile* profile = nullptr;  // per-op laps (CPU backend; a queueing backend passes nullptr)
};

/**
 * The LLaMA forward pass as an ordered list of op calls on `ops`, the same on every backend: writes
 * K/V for every token into the cache and the logits of the logits rows into act.logits.
 */
void llama_forward(const LlamaConfig& c, const LlamaTensors& w, BackendOps& ops, const LlamaStepArgs& in,
                   const LlamaActivations& act);

class LlamaModel {
 public:
  /** Binds every tensor the config needs; throws std::invalid_argument naming a missing or mis-shaped one. */
  LlamaModel(const LlamaConfig& config, std::unique_ptr<ModelWeights> weights);

  const LlamaConfig& config() const { return config_; }

  /**
   * Copies every matmul weight into the packed layout of `isa`'s kernels where it has one (matmul.h,
   * "Packed weights"); the copies replace the mapped weights for those kernels, whose mapped pages
   * are released (so resident memory stays about one copy of the weights). Returns the bytes copied.
   * KVSERVE_PACK_WEIGHTS=0 turns it off (for comparisons).
   */
  int64_t pack_weights(Isa isa, ThreadPool& pool);

  /** Runs the forward pass for one step on the CPU backend; writes K/V into `cache` and the logits rows into `out`. */
  void forward(const StepInput& in, KvCache& cache, ThreadPool& pool, Isa isa, StepOutput& out);

  /** The bound host tensors, for backends that copy them elsewhere (native/backends/cuda). */
  const LlamaTensors& tensors() const { return tensors_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  void ensure_buffers(int64_t num_tokens, int64_t num_logits);

  LlamaConfig config_;
  std::unique_ptr<ModelWeights> weights_;
  LlamaTensors tensors_;
  std::vector<float> inv_freq_;
  Scratch scratch_;
  // Activations, grown to the largest step and reused.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rows_;
  std::vector<void*> k_layers_, v_layers_;
  // The packed weight copies (one buffer, see huge_pages.h), owned here; WeightView::packed points into it.
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> packed_;
};

}  // namespace kv
