// The LLaMA family (Llama 2/3, Mistral, Qwen2, Qwen3) as an ordered list of op calls.
// Variants differ only in flags: qkv bias (Qwen2), per-head q/k RMSNorm (Qwen3), RoPE layout and
// frequency scaling, tied embeddings.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

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

  /** Runs the forward pass for one step; writes K/V into `cache` and logits of the selected rows into `out`. */
  void forward(const StepInput& in, KvCache& cache, ThreadPool& pool, Isa isa, StepOutput& out);

  /** The tensors of one layer, bound and shape-checked (host memory: mapped files or converted copies). */
  struct Layer {
    const float* attn_norm;
    WeightView wq, wk, wv, wo;
    const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
    const float *q_norm = nullptr, *k_norm = nullptr;
    const float* ffn_norm;
    WeightView w_gate, w_up, w_down;
  };

  // The bound weights, for backends that run the same op list elsewhere (native/backends/cuda).
  const std::vector<Layer>& layers() const { return layers_; }
  const void* token_embd() const { return token_embd_; }
  DType token_embd_dtype() const { return token_embd_dtype_; }
  const WeightView& output() const { return output_; }
  const float* output_norm() const { return output_norm_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  void ensure_buffers(int64_t num_tokens, int64_t num_logits);
  // Products of one x with several weights (q/k/v, gate/up): one activation conversion and one pass
  // over the pool when the weights allow it (matmul_can_share), else one matmul each.
  void matmuls(Isa isa, float* const* outs, const float* x, const WeightView* const* ws, const float* const* biases,
               int count, int64_t m, ThreadPool& pool);

  LlamaConfig config_;
  std::unique_ptr<ModelWeights> weights_;
  const void* token_embd_ = nullptr;
  DType token_embd_dtype_ = DType::F32;
  WeightView output_;
  const float* output_norm_ = nullptr;
  std::vector<Layer> layers_;
  std::vector<float> inv_freq_;
  Scratch scratch_;
  // Activations, grown to the largest step and reused.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rows_;
  std::vector<int32_t> row_ids_;
  // The packed weight copies (one buffer, see huge_pages.h), owned here; WeightView::packed points into it.
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> packed_;
};

}  // namespace kv
