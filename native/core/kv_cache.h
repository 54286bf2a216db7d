// The paged KV cache: per layer, K and V arrays of [num_blocks, n_kv_heads, block_size, head_dim]
// in F32, F16 or BF16. Each (block, kv head) is a contiguous block_size x head_dim tile, so paged
// attention streams a block once per head group. Slots: block_id * block_size + offset.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kv {

class KvCache {
 public:
  KvCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t n_kv_heads, int64_t head_dim, DType dtype);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  void* k(int64_t layer) { return k_[layer]; }
  void* v(int64_t layer) { return v_[layer]; }
  DType dtype() const { return dtype_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t block_bytes() const { return block_bytes_; }
  /** Bytes of K and V over all layers for one token. */
  int64_t bytes_per_token() const;
  int64_t total_bytes() const { return 2 * num_layers_ * num_blocks_ * block_bytes_; }

  /** Copies block src to dst in every layer (copy-on-write for forked sequences). */
  void copy_block(int32_t src, int32_t dst);

 private:
  int64_t num_layers_, num_blocks_, block_size_, n_kv_heads_, head_dim_;
  DType dtype_;
  int64_t block_bytes_;  // one block of one layer's K (or V)
  std::vector<void*> k_, v_;
};

}  // namespace kv
