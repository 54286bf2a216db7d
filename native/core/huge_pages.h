// Large, long-lived buffers (KV cache layers, packed weights) on transparent huge pages where the
// kernel allows them (THP "madvise" mode, the common default): 2 MiB-aligned allocations with
// MADV_HUGEPAGE, so the kernels' scattered reads (paged KV blocks) and weight streams miss the TLB
// 512 times less often. Falls back to ordinary pages silently; free with std::free.
#pragma once
#include <cstddef>
#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kv {

constexpr size_t kHugePageBytes = size_t(2) << 20;

/** 64-byte aligned (2 MiB aligned and advised for huge pages from 2 MiB up) or nullptr. */
inline void* huge_alloc(size_t bytes) {
  if (bytes == 0) bytes = 64;
  if (bytes < kHugePageBytes) return std::aligned_alloc(64, (bytes + 63) & ~size_t(63));
  const size_t rounded = (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  void* p = std::aligned_alloc(kHugePageBytes, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p) (void)madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure leaves ordinary pages
#endif
  return p;
}

}  // namespace kv
