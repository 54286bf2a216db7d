// The per-op function table a backend fills (native/backends/cpu, native/backends/cuda). Model files
// (native/models) call ops only through it, so one ordered op list runs on every backend. Every
// pointer lives in the backend's memory (host for the CPU, device for CUDA); shapes and dtypes are
// those of each op's header (native/ops/<op>/<op>.h). Calls are in stream order: a backend may queue
// them (CUDA) or run them before returning (CPU).
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/weight.h"

namespace kv {

/** The sequences of one step, as paged attention reads them (see ops/paged_attention/paged_attention.h). */
struct AttentionBatch {
  const int32_t* query_start_loc = nullptr;  // [num_seqs + 1]
  const int32_t* seq_lens = nullptr;         // [num_seqs]
  const int32_t* block_tables = nullptr;     // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  int64_t num_seqs = 0;
};

class BackendOps {
 public:
  virtual ~BackendOps() = default;

  // out[n, dim] = table[ids[i], :] converted to f32.
  virtual void embedding(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n) = 0;
  // out[rows, dim] = x / rms(x) * weight (in place allowed).
  virtual void rms_norm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps) = 0;
  // outs[i][m, ws[i].rows] = x[m, cols] @ ws[i]^T (+ biases[i] when not null), for i < count; every
  // ws[i] has the same cols. A backend may share work on x across the group (one conversion of x).
  virtual void matmuls(float* const* outs, const float* x, const WeightView* const* ws, const float* const* biases,
                       int count, int64_t m) = 0;
  // One product: out[m, w.rows] = x[m, w.cols] @ w^T (+ bias when not null).
  void matmul(float* out, const float* x, const WeightView& w, const float* bias, int64_t m) {
    const WeightView* ws[1] = {&w};
    matmuls(&out, x, ws, &bias, 1, m);
  }
  // x[n_tokens, n_heads, head_dim] rotated in place by positions (layout as ops/rope/rope.h).
  virtual void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
                    const int32_t* positions, const float* inv_freq, float position_scale, int32_t layout) = 0;
  // K/V rows into the paged cache slots slot_mapping[i] (-1: skipped).
  virtual void kv_cache_write(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                              const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                              int64_t block_size) = 0;
  // out[n_tokens, n_heads * head_dim]: causal attention of each query row over its sequence's cache.
  virtual void paged_attention(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                               const AttentionBatch& batch, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                               int64_t block_size, float scale) = 0;
  // out[n] = a + b (in place allowed).
  virtual void add(float* out, const float* a, const float* b, int64_t n) = 0;
  // out[n] = silu(gate) * up (in place allowed).
  virtual void silu_mul(float* out, const float* gate, const float* up, int64_t n) = 0;
  // out[i, :] = x[rows[i], :] for i < n_rows (rows: indices in the backend's memory).
  virtual void gather_rows(float* out, const float* x, const int32_t* rows, int64_t n_rows, int64_t dim) = 0;

  // Fused ops. Each default runs the ops it fuses, one after another; a backend overrides it to save
  // passes over memory and synchronisations, with results equal to the default's bit for bit.

  // The residual add and the norm before a layer's first matmuls: x[m, d] += add (when not null;
  // x is the residual stream, written back), then outs[i] = rms_norm(x, norm_weight) @ ws[i]^T
  // (+ biases[i]) as matmuls. `normed` [m, d] is working memory the default writes the norm into;
  // `add` may alias it.
  virtual void add_rms_norm_matmuls(float* x, const float* add, const float* norm_weight, float eps, float* normed,
                                    float* const* outs, const WeightView* const* ws, const float* const* biases,
                                    int count, int64_t m) {
    const int64_t d = ws[0]->cols;
    if (add) this->add(x, x, add, m * d);
    rms_norm(normed, x, norm_weight, m, d, eps);
    matmuls(outs, normed, ws, biases, count, m);
  }
  // The down projection of silu(gate) * up: out[m, w.rows] = (silu(gate) * up)[m, w.cols] @ w^T.
  // gate may be overwritten.
  virtual void silu_mul_matmul(float* out, float* gate, const float* up, const WeightView& w, int64_t m) {
    silu_mul(gate, gate, up, m * w.cols);
    matmul(out, gate, w, nullptr, m);
  }
  // rope on q [n_tokens, n_heads, head_dim] (in place) and k [n_tokens, n_kv_heads, head_dim] (may be
  // overwritten), then the rotated k and v written into the cache as kv_cache_write does.
  virtual void rope_kv_cache_write(float* q, float* k, const float* v, int64_t n_tokens, int64_t n_heads,
                                   int64_t n_kv_heads, int64_t head_dim, int64_t rope_dim, const int32_t* positions,
                                   const float* inv_freq, float position_scale, int32_t layout, void* k_cache,
                                   void* v_cache, DType kv_dtype, const int32_t* slot_mapping, int64_t block_size) {
    rope(q, n_tokens, n_heads, head_dim, rope_dim, positions, inv_freq, position_scale, layout);
    rope(k, n_tokens, n_kv_heads, head_dim, rope_dim, positions, inv_freq, position_scale, layout);
    kv_cache_write(k_cache, v_cache, kv_dtype, k, v, slot_mapping, n_tokens, n_kv_heads, head_dim, block_size);
  }
};

}  // namespace kv
