#include "kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "core/huge_pages.h"

namespace kv {

KvCache::KvCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t n_kv_heads, int64_t head_dim,
                 DType dtype)
    : num_layers_(num_layers), num_blocks_(num_blocks), block_size_(block_size), n_kv_heads_(n_kv_heads),
      head_dim_(head_dim), dtype_(dtype) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16) {
    throw std::invalid_argument(std::string("kvCacheDtype: expected F32, F16 or BF16, got ") + dtype_name(dtype));
  }
  block_bytes_ = n_kv_heads * block_size * head_dim * dtype_block_bytes(dtype);
  const size_t layer_bytes = static_cast<size_t>(num_blocks * block_bytes_);
  for (int64_t l = 0; l < num_layers; ++l) {
    // Huge pages where allowed: attention reads blocks at scattered addresses (one TLB entry per 2 MiB).
    void* k = huge_alloc(layer_bytes);
    void* v = huge_alloc(layer_bytes);
    if (!k || !v) {
      std::free(k);
      std::free(v);
      for (void* p : k_) std::free(p);
      for (void* p : v_) std::free(p);
      throw std::bad_alloc();
    }
    // Zeroed so that a bug reading an unwritten slot gives zeros, not garbage or NaN.
    std::memset(k, 0, layer_bytes);
    std::memset(v, 0, layer_bytes);
    k_.push_back(k);
    v_.push_back(v);
  }
}

KvCache::~KvCache() {
  for (void* p : k_) std::free(p);
  for (void* p : v_) std::free(p);
}

int64_t KvCache::bytes_per_token() const { return 2 * num_layers_ * n_kv_heads_ * head_dim_ * dtype_block_bytes(dtype_); }

void KvCache::copy_block(int32_t src, int32_t dst) {
  for (int64_t l = 0; l < num_layers_; ++l) {
    auto* k = static_cast<uint8_t*>(k_[l]);
    auto* v = static_cast<uint8_t*>(v_[l]);
    std::memcpy(k + dst * block_bytes_, k + src * block_bytes_, block_bytes_);
    std::memcpy(v + dst * block_bytes_, v + src * block_bytes_, block_bytes_);
  }
}

}  // namespace kv
