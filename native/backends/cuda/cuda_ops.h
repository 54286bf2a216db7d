// The CUDA backend's op table: each op queues its kernel (native/ops/<op>/<op>_cuda.cu) on one stream;
// nothing is synchronized here. One CudaOps serves one step: it holds that step's paged-attention plan
// (computed on the host from the step's sequence lengths) and the workspaces sized for it.
#pragma once
#include "core/backend_ops.h"
#include "ops/paged_attention/paged_attention_cuda.h"

namespace kv::cuda {

class CudaOps final : public BackendOps {
 public:
  CudaOps(Stream stream, void* matmul_workspace, const PagedAttentionPlan& plan)
      : stream_(stream), matmul_workspace_(matmul_workspace), plan_(plan) {}

  void embedding(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n) override;
  void rms_norm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps) override;
  void matmuls(float* const* outs, const float* x, const WeightView* const* ws, const float* const* biases, int count,
               int64_t m) override;
  void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const int32_t* positions,
            const float* inv_freq, float position_scale, int32_t layout) override;
  void kv_cache_write(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                      const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                      int64_t block_size) override;
  void paged_attention(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                       const AttentionBatch& batch, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                       int64_t block_size, float scale) override;
  void add(float* out, const float* a, const float* b, int64_t n) override;
  void silu_mul(float* out, const float* gate, const float* up, int64_t n) override;
  void gather_rows(float* out, const float* x, const int32_t* rows, int64_t n_rows, int64_t dim) override;

 private:
  Stream stream_;
  void* matmul_workspace_;
  PagedAttentionPlan plan_;
};

}  // namespace kv::cuda
