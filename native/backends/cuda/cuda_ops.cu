// CudaOps (see cuda_ops.h): the op table over the CUDA launchers, plus the row gather the logits need.
#include "backends/cuda/cuda_ops.h"

#include "core/cuda/device_util.cuh"
#include "ops/add/add_cuda.h"
#include "ops/embedding/embedding_cuda.h"
#include "ops/kv_cache_write/kv_cache_write_cuda.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/rms_norm/rms_norm_cuda.h"
#include "ops/rope/rope_cuda.h"
#include "ops/silu_mul/silu_mul_cuda.h"

namespace kv::cuda {

namespace {

// out[i, :] = x[rows[i], :]. One block per row.
__global__ void gather_rows_kernel(float* out, const float* x, const int32_t* rows, int64_t d) {
  const float* src = x + static_cast<int64_t>(rows[blockIdx.x]) * d;
  float* dst = out + static_cast<int64_t>(blockIdx.x) * d;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
}

}  // namespace

void CudaOps::embedding(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n) {
  embedding_cuda(out, table, dtype, dim, ids, n, stream_);
}

void CudaOps::rms_norm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps) {
  rms_norm_cuda(out, x, weight, rows, dim, eps, stream_);
}

void CudaOps::matmuls(float* const* outs, const float* x, const WeightView* const* ws, const float* const* biases,
                      int count, int64_t m) {
  for (int i = 0; i < count; ++i) matmul_cuda(outs[i], x, *ws[i], biases[i], m, matmul_workspace_, stream_);
}

void CudaOps::rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
                   const int32_t* positions, const float* inv_freq, float position_scale, int32_t layout) {
  rope_cuda(x, n_tokens, n_heads, head_dim, rope_dim, positions, inv_freq, position_scale, layout, stream_);
}

void CudaOps::kv_cache_write(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                             const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                             int64_t block_size) {
  kv_cache_write_cuda(k_cache, v_cache, kv_dtype, k, v, slot_mapping, n_tokens, n_kv_heads, head_dim, block_size,
                      stream_);
}

void CudaOps::paged_attention(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                              const AttentionBatch& batch, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                              int64_t block_size, float scale) {
  paged_attention_cuda(out, q, k_cache, v_cache, kv_dtype, batch.query_start_loc, batch.seq_lens, batch.block_tables,
                       batch.max_blocks_per_seq, batch.num_seqs, n_heads, n_kv_heads, head_dim, block_size, scale,
                       plan_, stream_);
}

void CudaOps::add(float* out, const float* a, const float* b, int64_t n) { add_cuda(out, a, b, n, stream_); }

void CudaOps::silu_mul(float* out, const float* gate, const float* up, int64_t n) {
  silu_mul_cuda(out, gate, up, n, stream_);
}

void CudaOps::gather_rows(float* out, const float* x, const int32_t* rows, int64_t n_rows, int64_t dim) {
  if (n_rows == 0) return;
  KV_LAUNCH(gather_rows_kernel, static_cast<unsigned>(n_rows), 256, 0, stream_)(out, x, rows, dim);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
