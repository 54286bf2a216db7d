#include "backends/cpu/cpu_ops.h"

#include <algorithm>
#include <cstring>

#include "ops/add/add.h"
#include "ops/embedding/embedding.h"
#include "ops/kv_cache_write/kv_cache_write.h"
#include "ops/matmul/matmul.h"
#include "ops/paged_attention/paged_attention.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rope/rope.h"
#include "ops/silu_mul/silu_mul.h"

namespace kv {

namespace {

// Splits `rows` rows of `cols` values over the pool when there is enough work to pay for it.
template <typename Fn>
void for_row_ranges(ThreadPool& pool, int64_t rows, int64_t cols, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols));
  pool.parallel_for(rows, grain, [&](int64_t begin, int64_t end, int) { fn(begin, end); });
}

// Splits n flat values into whole 16384-value chunks over the pool (the split never depends on the
// thread count); fn gets [lo, hi) value ranges.
template <typename Fn>
void for_value_chunks(ThreadPool& pool, int64_t n, Fn&& fn) {
  const int64_t chunk = 16384;
  for_row_ranges(pool, (n + chunk - 1) / chunk, chunk, [&](int64_t b, int64_t e) { fn(b * chunk, std::min(n, e * chunk)); });
}

}  // namespace

void CpuOps::embedding(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n) {
  for_row_ranges(pool_, n, dim, [&](int64_t b, int64_t e) {
    KV_CPU_DISPATCH(isa_, embedding_cpu, out + b * dim, table, dtype, dim, ids + b, e - b);
  });
}

void CpuOps::rms_norm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps) {
  for_row_ranges(pool_, rows, dim, [&](int64_t b, int64_t e) {
    KV_CPU_DISPATCH(isa_, rms_norm_cpu, out + b * dim, x + b * dim, weight, e - b, dim, eps);
  });
}

// q/k/v and gate/up: one activation conversion and one pass over the pool when the weights allow it
// (matmul_can_share), else one matmul each.
void CpuOps::matmuls(float* const* outs, const float* x, const WeightView* const* ws, const float* const* biases,
                     int count, int64_t m) {
  bool shared = count > 1;
  for (int i = 1; i < count; ++i) shared = shared && matmul_can_share(*ws[0], *ws[i]);
  if (shared) {
    KV_CPU_DISPATCH(isa_, matmul_multi_cpu, outs, x, ws, biases, count, m, pool_, scratch_);
    return;
  }
  for (int i = 0; i < count; ++i) KV_CPU_DISPATCH(isa_, matmul_cpu, outs[i], x, *ws[i], biases[i], m, pool_, scratch_);
}

void CpuOps::rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
                  const int32_t* positions, const float* inv_freq, float position_scale, int32_t layout) {
  const int64_t row = n_heads * head_dim;
  for_row_ranges(pool_, n_tokens, row, [&](int64_t b, int64_t e) {
    KV_CPU_DISPATCH(isa_, rope_cpu, x + b * row, e - b, n_heads, head_dim, rope_dim, positions + b, inv_freq,
                    position_scale, layout);
  });
}

void CpuOps::kv_cache_write(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                            const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                            int64_t block_size) {
  KV_CPU_DISPATCH(isa_, kv_cache_write_cpu, k_cache, v_cache, kv_dtype, k, v, slot_mapping, n_tokens, n_kv_heads,
                  head_dim, block_size);
}

void CpuOps::paged_attention(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                             const AttentionBatch& batch, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                             int64_t block_size, float scale) {
  KV_CPU_DISPATCH(isa_, paged_attention_cpu, out, q, k_cache, v_cache, kv_dtype, batch.query_start_loc, batch.seq_lens,
                  batch.block_tables, batch.max_blocks_per_seq, batch.num_seqs, n_heads, n_kv_heads, head_dim,
                  block_size, scale, pool_, scratch_);
}

void CpuOps::add(float* out, const float* a, const float* b, int64_t n) {
  for_value_chunks(pool_, n, [&](int64_t lo, int64_t hi) { KV_CPU_DISPATCH(isa_, add_cpu, out + lo, a + lo, b + lo, hi - lo); });
}

void CpuOps::silu_mul(float* out, const float* gate, const float* up, int64_t n) {
  for_value_chunks(pool_, n, [&](int64_t lo, int64_t hi) {
    KV_CPU_DISPATCH(isa_, silu_mul_cpu, out + lo, gate + lo, up + lo, hi - lo);
  });
}

void CpuOps::add_rms_norm_matmuls(float* x, const float* add, const float* norm_weight, float eps, float* normed,
                                  float* const* outs, const WeightView* const* ws, const float* const* biases,
                                  int count, int64_t m) {
  bool shared = true;
  for (int i = 1; i < count; ++i) shared = shared && matmul_can_share(*ws[0], *ws[i]);
  if (!shared) {  // mixed weight types (some K-quant files) convert x once per type: the norm is stored
    BackendOps::add_rms_norm_matmuls(x, add, norm_weight, eps, normed, outs, ws, biases, count, m);
    return;
  }
  MatmulPrologue pro;
  pro.kind = MatmulPrologue::Kind::RmsNorm;
  pro.add = add;
  pro.norm_weight = norm_weight;
  pro.eps = eps;
  KV_CPU_DISPATCH(isa_, matmul_prologue_cpu, outs, x, pro, ws, biases, count, m, pool_, scratch_);
}

void CpuOps::silu_mul_matmul(float* out, float* gate, const float* up, const WeightView& w, int64_t m) {
  MatmulPrologue pro;
  pro.kind = MatmulPrologue::Kind::SiluMul;
  pro.up = up;
  const WeightView* ws[1] = {&w};
  const float* biases[1] = {nullptr};
  KV_CPU_DISPATCH(isa_, matmul_prologue_cpu, &out, gate, pro, ws, biases, 1, m, pool_, scratch_);
}

// One pass over the tokens: each token's q and k rotated and its k and v rows written to the cache
// while they are in L1 (the separate ops are three passes, three waits for the pool).
void CpuOps::rope_kv_cache_write(float* q, float* k, const float* v, int64_t n_tokens, int64_t n_heads,
                                 int64_t n_kv_heads, int64_t head_dim, int64_t rope_dim, const int32_t* positions,
                                 const float* inv_freq, float position_scale, int32_t layout, void* k_cache,
                                 void* v_cache, DType kv_dtype, const int32_t* slot_mapping, int64_t block_size) {
  const int64_t q_row = n_heads * head_dim, kv_row = n_kv_heads * head_dim;
  for_row_ranges(pool_, n_tokens, q_row + 2 * kv_row, [&](int64_t b, int64_t e) {
    KV_CPU_DISPATCH(isa_, rope_cpu, q + b * q_row, e - b, n_heads, head_dim, rope_dim, positions + b, inv_freq,
                    position_scale, layout);
    KV_CPU_DISPATCH(isa_, rope_cpu, k + b * kv_row, e - b, n_kv_heads, head_dim, rope_dim, positions + b, inv_freq,
                    position_scale, layout);
    KV_CPU_DISPATCH(isa_, kv_cache_write_cpu, k_cache, v_cache, kv_dtype, k + b * kv_row, v + b * kv_row,
                    slot_mapping + b, e - b, n_kv_heads, head_dim, block_size);
  });
}

void CpuOps::gather_rows(float* out, const float* x, const int32_t* rows, int64_t n_rows, int64_t dim) {
  for (int64_t i = 0; i < n_rows; ++i) std::memcpy(out + i * dim, x + static_cast<int64_t>(rows[i]) * dim, dim * sizeof(float));
}

}  // namespace kv
