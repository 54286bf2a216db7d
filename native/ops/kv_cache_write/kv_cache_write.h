// kv_cache_write: stores this step's K and V rows into the paged KV cache, at each token's slot.
//   for every token t with slot = slot_mapping[t] >= 0, block = slot / block_size, off = slot % block_size,
//   and every kv head h:  k_cache[block, h, off, :] = convert(k[t, h, :]);  v_cache likewise.
//
// KV cache layout (one K cache and one V cache per layer; paged_attention reads the same layout):
//   [num_blocks, n_kv_heads, block_size, head_dim] of kv_dtype (F32, F16 or BF16).
//   A token's slot is block_id * block_size + offset_in_block. Each (block, kv head) is then one
//   contiguous block_size x head_dim tile, so attention streams each KV block once per head group.
//
//   k_cache, v_cache  [num_blocks, n_kv_heads, block_size, head_dim] kv_dtype, written in place
//   k, v              [n_tokens, n_kv_heads, head_dim] f32
//   slot_mapping      [n_tokens] i32: the slot of token t, or -1 to skip it (padding)
// F16 and BF16 round to nearest even (NaN stays NaN, overflow becomes infinity).
// Invariants (checked by the binding, trusted here): kv_dtype is F32, F16 or BF16; every slot is -1 or
// in [0, num_blocks * block_size); cache pointers are aligned to the element size. Slots are expected
// to be distinct (a model step refuses repeated ones); if two tokens share one here, the later wins.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void kv_cache_write_cpu(void* k_cache, void* v_cache, DType kv_dtype, const float* k,
                                              const float* v, const int32_t* slot_mapping, int64_t n_tokens,
                                              int64_t n_kv_heads, int64_t head_dim, int64_t block_size))
