// cuda_emu: block barriers, warp shuffles, votes and fences. Each call site passes its file and line
// (default arguments evaluated at the caller), so deadlock and misuse reports name the site, and a
// test can drop one __syncthreads site by name (KV_EMU_DROP_SYNC). Included by cuda_emu.h.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace kvemu {

enum class BlockOp : int { Sync, Count, And, Or };
/** Block barrier; returns the count / and / or of `predicate` over the block's live threads. */
int block_sync(BlockOp op, int predicate, const char* file, int line);

enum class WarpOp : int { Sync, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All };
/**
 * Warp collective over the live lanes of `mask` (the caller's lane must be in it). Shuffles return
 * the source lane's `value` (the caller's own when the source is outside its segment, as PTX shfl);
 * Ballot returns the mask of lanes with a nonzero value; Any / All return 0 or 1.
 */
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line);

/** Mask of the live lanes of the caller's warp. */
unsigned active_mask();

template <typename T>
inline uint64_t to_bits(const T& v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffled types are at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace kvemu

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  kvemu::block_sync(kvemu::BlockOp::Sync, 0, file, line);
}
inline int __syncthreads_count(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return kvemu::block_sync(kvemu::BlockOp::Count, predicate, file, line);
}
inline int __syncthreads_and(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return kvemu::block_sync(kvemu::BlockOp::And, predicate, file, line);
}
inline int __syncthreads_or(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return kvemu::block_sync(kvemu::BlockOp::Or, predicate, file, line);
}

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  kvemu::warp_collective(kvemu::WarpOp::Sync, mask, 0, 0, 32, file, line);
}

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, const char* file = __builtin_FILE(),
                     int line = __builtin_LINE()) {
  return kvemu::from_bits<T>(
      kvemu::warp_collective(kvemu::WarpOp::ShflIdx, mask, kvemu::to_bits(var), src_lane, width, file, line));
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                        int line = __builtin_LINE()) {
  return kvemu::from_bits<T>(kvemu::warp_collective(kvemu::WarpOp::ShflUp, mask, kvemu::to_bits(var),
                                                    static_cast<int>(delta), width, file, line));
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return kvemu::from_bits<T>(kvemu::warp_collective(kvemu::WarpOp::ShflDown, mask, kvemu::to_bits(var),
                                                    static_cast<int>(delta), width, file, line));
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return kvemu::from_bits<T>(
      kvemu::warp_collective(kvemu::WarpOp::ShflXor, mask, kvemu::to_bits(var), lane_mask, width, file, line));
}

inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(
      kvemu::warp_collective(kvemu::WarpOp::Ballot, mask, predicate != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(kvemu::warp_collective(kvemu::WarpOp::Any, mask, predicate != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(kvemu::warp_collective(kvemu::WarpOp::All, mask, predicate != 0, 0, 32, file, line));
}
inline unsigned __activemask() { return kvemu::active_mask(); }

inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
