// paged_attention: causal multi-head attention of this step's query tokens over the paged KV cache.
// One call serves prefill chunks on top of a cached context, fresh prefills, decode rows (L = 1) and
// mixed batches of all three (vLLM's "varlen" layout).
//
// Sequence s owns query tokens query_start_loc[s] .. query_start_loc[s+1]-1 (L = query length) and has
// context length C = seq_lens[s], which INCLUDES these L tokens (kv_cache_write ran first). Its query
// token j (0-based) sits at position C - L + j and attends to cached positions 0 .. C - L + j:
//   out[t, h, :] = sum_p softmax_p(scale * q[t, h, :] . K[p]) * V[p]      (softmax in f32, max-subtracted)
// where K[p], V[p] are kv head h / (n_heads / n_kv_heads) (GQA) of position p, which lives in block
// block_tables[s * max_blocks_per_seq + p / block_size] at offset p % block_size.
//
//   out           [T, n_heads, head_dim] f32, T = query_start_loc[num_seqs]; may alias q exactly
//   q             [T, n_heads, head_dim] f32
//   k_cache       [num_blocks, n_kv_heads, block_size, head_dim] kv_dtype (layout: kv_cache_write.h)
//   v_cache       [num_blocks, n_kv_heads, block_size, head_dim] kv_dtype
//   kv_dtype      F32, F16 or BF16
//   query_start_loc [num_seqs + 1] i32, query_start_loc[0] = 0, non-decreasing
//   seq_lens      [num_seqs] i32, C >= L for every sequence
//   block_tables  [num_seqs, max_blocks_per_seq] i32; entries for positions < C are valid block ids
//                 (entries past ceil(C / block_size) are never read)
// Invariants (checked by the binding, trusted here): the ones above, n_heads % n_kv_heads == 0, and
// cache pointers aligned to the element size.
//
// Work is split over (sequence, kv head, tile of query rows) and spread on `pool`; each task streams
// its sequence's K/V once for all query heads of the GQA group and all rows of the tile, with an online
// (flash-attention) softmax, so memory is O(rows x head_dim) per task. `scratch` holds the task list and
// one working region per pool thread; it grows on first use and is reused afterwards.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/isa.h"
#include "core/scratch.h"
#include "core/thread_pool.h"

KV_DECLARE_CPU_KERNEL(void paged_attention_cpu(
    float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
    const int32_t* query_start_loc, const int32_t* seq_lens, const int32_t* block_tables,
    int64_t max_blocks_per_seq, int64_t num_seqs, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
    int64_t block_size, float scale, ThreadPool& pool, Scratch& scratch))
