// CUDA launcher of paged_attention (paged_attention_cuda.cu); what it computes, the cache layout and
// the invariants: paged_attention.h. All pointers are device memory. Host-side sizes the caller knows
// from its StepInput (the grid is sized from them) travel in a PagedAttentionPlan.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/cuda/stream.h"
#include "core/dtype.h"

namespace kv::cuda {

struct PagedAttentionPlan {
  int64_t num_tokens = 0;     // T = query_start_loc[num_seqs] (rows of q and out)
  int64_t max_query_len = 0;  // >= every sequence's query length L
  int64_t max_seq_len = 0;    // >= every sequence's context length C
  // 0: one pass (one block per query tile visits the whole context). > 0: split context, each block
  // visits one partition of this many positions (a multiple of 16), then a reduction kernel merges the
  // partitions' softmax statistics; needs `workspace`.
  int64_t partition_size = 0;
  float* workspace = nullptr;  // split only: paged_attention_workspace_floats(...) floats
};

/** Contexts at least this long, with short queries (decode), use the split variant. */
constexpr int64_t kPagedAttentionSplitMinContext = 1024;
constexpr int64_t kPagedAttentionSplitMaxQueryLen = 8;
constexpr int64_t kPagedAttentionPartition = 512;
/** Largest head_dim the kernels take (shared memory per block). */
constexpr int64_t kPagedAttentionMaxHeadDim = 512;

/** The partition size the engine uses for a step: kPagedAttentionPartition for long decode, else 0. */
int64_t paged_attention_partition_size(int64_t max_query_len, int64_t max_seq_len);

/** Device floats the split variant needs as workspace (0 when partition_size is 0). */
size_t paged_attention_workspace_floats(int64_t num_tokens, int64_t n_heads, int64_t head_dim, int64_t max_seq_len,
                                        int64_t partition_size);

void paged_attention_cuda(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                          const int32_t* query_start_loc, const int32_t* seq_lens, const int32_t* block_tables,
                          int64_t max_blocks_per_seq, int64_t num_seqs, int64_t n_heads, int64_t n_kv_heads,
                          int64_t head_dim, int64_t block_size, float scale, const PagedAttentionPlan& plan,
                          Stream stream);

}  // namespace kv::cuda
