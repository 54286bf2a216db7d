// Device helpers shared by the CUDA kernels: warp and block reductions, and element loads of the
// 16-bit types as raw bits (so every kernel converts them the same way). Everything here is inline or a
// template, so several kernel files link into one program without duplicate symbols.
// Reductions assume full warps: launchers use block sizes that are multiples of 32.
#pragma once
#include <cstdint>

#include "core/cuda/kv_cuda.h"

namespace kv::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

/**
 * Sum over the block, returned to every thread. `partials` is shared memory for 32 values. One
 * barrier (partials visible); every warp then reduces the partials itself, so no broadcast is needed.
 * A caller that reuses `partials` must __syncthreads() first (a warp may still be reading them).
 */
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* partials) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) partials[warp] = v;
  __syncthreads();
  return warp_sum(lane < warps ? partials[lane] : T(0));
}

/** Maximum over the block, returned to every thread (same contract as block_sum). */
__device__ __forceinline__ float block_max(float v, float* partials) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  if (lane == 0) partials[warp] = v;
  __syncthreads();
  return warp_max(lane < warps ? partials[lane] : -INFINITY);
}

/** f16 bits -> f32 (exact). */
__device__ __forceinline__ float half_bits_to_float(uint16_t h) { return __half2float(__ushort_as_half(h)); }
/** bf16 bits -> f32 (exact). */
__device__ __forceinline__ float bf16_bits_to_float(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }

/**
 * f32 -> f16 bits, round to nearest even, NaN -> sign | 0x7e00: the bits core/dtype.h's fp32_to_fp16
 * gives on the CPU (the hardware conversion returns a canonical NaN instead).
 */
__device__ __forceinline__ uint16_t float_to_half_bits(float f) {
  if (isnan(f)) return static_cast<uint16_t>(((__float_as_uint(f) >> 16) & 0x8000u) | 0x7e00u);
  return __half_as_ushort(__float2half_rn(f));
}

/** f32 -> bf16 bits, round to nearest even, NaN quieted keeping sign and payload: fp32_to_bf16's bits. */
__device__ __forceinline__ uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace kv::cuda
