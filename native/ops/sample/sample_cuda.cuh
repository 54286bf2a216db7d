// Device helpers of the CUDA sample kernel (sample_cuda.cu): the counter-based random numbers of
// sample_internal.h as host/device functions (the test checks they equal the CPU ones), the 64-bit
// order key of a token, and block-wide selections over a row by radix descent on that key.
//
// Order key: key(v, id) = (orderable(v) << 32) | (0xffffffff - id), so a larger key is a larger value,
// then a lower id: the pipeline's strict total order (sample_detail::better). Every prefix of the order
// is {i : key_i >= K} for the key K of its last token.
//
// Radix descent: 8 passes of 8 bits from the top; each pass histograms (counts, or 2^-40 fixed-point
// masses) the tokens whose key matches the prefix chosen so far, and one thread picks the next digit.
// Integer histograms make the result independent of thread timing (deterministic). Each pass has three
// barriers: histogram cleared / histogram complete / digit published.
#pragma once
#include <cstdint>

#include "core/cuda/device_util.cuh"

namespace kv::cuda::sample {

__host__ __device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
__host__ __device__ __forceinline__ uint64_t row_key(uint64_t seed, uint64_t counter) {
  return splitmix64(seed ^ splitmix64(counter));
}
__host__ __device__ __forceinline__ uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x21F0AAADu;
  x ^= x >> 15;
  x *= 0x735A2D97u;
  x ^= x >> 15;
  return x;
}
__host__ __device__ __forceinline__ uint32_t token_bits(uint64_t key, uint32_t token) {
  return mix32(mix32(token ^ static_cast<uint32_t>(key)) + static_cast<uint32_t>(key >> 32));
}
/** E = -ln u ~ Exp(1), u = (bits + 0.5) / 2^32, formed exactly as sample_detail::exponential_from_bits. */
__device__ __forceinline__ float exponential_from_bits(uint32_t bits) {
  const bool top = (bits >> 31) != 0;
  const uint32_t folded = top ? ~bits : bits;
  const float f = (static_cast<float>(static_cast<int32_t>(folded)) + 0.5f) * 0x1p-32f;
  return top ? -log1pf(-f) : -logf(f);
}

/** Monotone map of non-NaN floats to unsigned integers. */
__device__ __forceinline__ uint32_t orderable(float v) {
  const uint32_t u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ uint64_t order_key(float v, int64_t id) {
  return (static_cast<uint64_t>(orderable(v)) << 32) | (0xffffffffu - static_cast<uint32_t>(id));
}
__device__ __forceinline__ int32_t key_id(uint64_t key) { return static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key)); }

/** Fixed-point weight of a token for the top-p masses: w in [0, 1] times 2^40, truncated. */
__device__ __forceinline__ uint64_t fixed_weight(float w) { return static_cast<uint64_t>(w * 1099511627776.0f); }

struct SelectShared {
  unsigned int counts[256];
  unsigned long long masses[256];
  uint64_t prefix;
  uint64_t above;    // top-p: mass of the tokens ordered before the current prefix range
  int64_t remaining; // k-th selection: rank still to find inside the current prefix range
  int found;
};

/**
 * Key of the token of rank k (1-based, k <= count of candidates) among the tokens with key >= floor, in
 * descending key order. Called by every thread of the block.
 */
__device__ inline uint64_t select_kth_key(const float* x, int64_t vocab, uint64_t floor, int64_t k, SelectShared& sh) {
  uint64_t prefix = 0, mask = 0;
  int64_t remaining = k;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += blockDim.x) sh.counts[d] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
      const uint64_t key = order_key(x[i], i);
      if (key >= floor && (key & mask) == prefix) atomicAdd(&sh.counts[(key >> shift) & 255], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int64_t cum = 0;
      int digit = 0;
      for (int d = 255; d >= 0; --d) {
        if (cum + sh.counts[d] >= remaining) {
          digit = d;
          break;
        }
        cum += sh.counts[d];
      }
      sh.prefix = prefix | (static_cast<uint64_t>(digit) << shift);
      sh.remaining = remaining - cum;
    }
    __syncthreads();
    prefix = sh.prefix;
    remaining = sh.remaining;
    mask |= uint64_t{255} << shift;
  }
  return prefix;
}

/**
 * Top-p over the tokens with key >= floor, whose fixed-point weights are fixed_weight(expf((x - shift)
 * * scale)): the key of the last kept token, i.e. the last token whose preceding mass is < target.
 * When the tokens weigh less than target in all (rounding), the last of them (floor's rank). Called by
 * every thread of the block.
 */
__device__ inline uint64_t select_top_p_key(const float* x, int64_t vocab, uint64_t floor, float shift_value, float scale,
                                            double target, SelectShared& sh) {
  uint64_t prefix = 0, mask = 0, above = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += blockDim.x) {
      sh.masses[d] = 0;
      sh.counts[d] = 0;
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float v = x[i];
      const uint64_t key = order_key(v, i);
      if (key >= floor && (key & mask) == prefix) {
        const int d = static_cast<int>((key >> shift) & 255);
        atomicAdd(&sh.masses[d], static_cast<unsigned long long>(fixed_weight(expf((v - shift_value) * scale))));
        atomicAdd(&sh.counts[d], 1u);
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      uint64_t cum = above;
      int digit = -1, lowest = 0;
      for (int d = 255; d >= 0; --d) {
        if (sh.counts[d] == 0) continue;
        lowest = d;
        if (static_cast<double>(cum + sh.masses[d]) >= target) {
          digit = d;
          break;
        }
        cum += sh.masses[d];
      }
      if (digit < 0) digit = lowest;  // everything is kept: descend to the last token
      sh.prefix = prefix | (static_cast<uint64_t>(digit) << shift);
      sh.above = cum;
    }
    __syncthreads();
    prefix = sh.prefix;
    above = sh.above;
    mask |= uint64_t{255} << shift;
  }
  return prefix;
}

/** Largest 64-bit value over the block, to every thread (partials: 32 entries of shared memory). */
__device__ __forceinline__ uint64_t block_max_u64(uint64_t v, unsigned long long* partials) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_xor_sync(kFullMask, v, o);
    v = other > v ? other : v;
  }
  if (lane == 0) partials[warp] = v;
  __syncthreads();
  v = lane < warps ? partials[lane] : 0;
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_xor_sync(kFullMask, v, o);
    v = other > v ? other : v;
  }
  return v;
}

}  // namespace kv::cuda::sample
