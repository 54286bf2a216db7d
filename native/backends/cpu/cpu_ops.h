// The CPU backend's op table: each op runs the ISA variant chosen at load (portable / AVX2 / AVX-512)
// over the thread pool, before returning. Row-wise ops split their rows over the pool when there is
// enough work to pay for it; matmul and paged attention split inside the kernel. The fused ops run the
// residual add and norm, or silu_mul, inside the next matmul's input conversion (a row at a time, never
// stored in full), and rope with the cache write in one pass over the tokens.
#pragma once
#include "core/backend_ops.h"
#include "core/isa.h"
#include "core/scratch.h"
#include "core/thread_pool.h"

namespace kv {

class CpuOps final : public BackendOps {
 public:
  CpuOps(Isa isa, ThreadPool& pool, Scratch& scratch) : isa_(isa), pool_(pool), scratch_(scratch) {}

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
  void add_rms_norm_matmuls(float* x, const float* add, const float* norm_weight, float eps, float* normed,
                            float* const* outs, const WeightView* const* ws, const float* const* biases, int count,
                            int64_t m) override;
  void silu_mul_matmul(float* out, float* gate, const float* up, const WeightView& w, int64_t m) override;
  void rope_kv_cache_write(float* q, float* k, const float* v, int64_t n_tokens, int64_t n_heads, int64_t n_kv_heads,
                           int64_t head_dim, int64_t rope_dim, const int32_t* positions, const float* inv_freq,
                           float position_scale, int32_t layout, void* k_cache, void* v_cache, DType kv_dtype,
                           const int32_t* slot_mapping, int64_t block_size) override;

 private:
  Isa isa_;
  ThreadPool& pool_;
  Scratch& scratch_;
};

}  // namespace kv
