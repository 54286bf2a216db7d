// Device-side dequantization of single weight elements, with the exact formulas of dequantize.h
// (ggml's): every product is exact in float, only Q4_K's final subtraction rounds, and the kernels
// build with -fmad=false, so an element equals dequantize_row_cpu's bit for bit.
//   row: the start of a weight row of `T` (dtype_row_bytes(T, n) bytes, 2-byte aligned); j < n.
// Block layouts: core/dtype.h (d first for Q8_0 / Q4_0 / Q4_K, last for Q6_K).
#pragma once
#include <cstdint>

#include "core/cuda/device_util.cuh"
#include "core/dtype.h"

namespace kv::cuda {

__device__ __forceinline__ float load_half(const uint8_t* p) {
  return half_bits_to_float(*reinterpret_cast<const uint16_t*>(p));
}

// ggml get_scale_min_k4: sub-block j's 6-bit scale and min from Q4_K's 12 scale bytes.
__device__ __forceinline__ void q4k_scale_min(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

template <DType T>
__device__ __forceinline__ float dequant_element(const uint8_t* row, int64_t j) {
  if constexpr (T == DType::F32) {
    return reinterpret_cast<const float*>(row)[j];
  } else if constexpr (T == DType::F16) {
    return half_bits_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
  } else if constexpr (T == DType::BF16) {
    return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
  } else if constexpr (T == DType::Q8_0) {
    const uint8_t* blk = row + (j / kQK8_0) * static_cast<int64_t>(sizeof(BlockQ8_0));
    return static_cast<float>(static_cast<int8_t>(blk[2 + j % kQK8_0])) * load_half(blk);
  } else if constexpr (T == DType::Q4_0) {
    const uint8_t* blk = row + (j / kQK4_0) * static_cast<int64_t>(sizeof(BlockQ4_0));
    const int k = static_cast<int>(j % kQK4_0);
    const int byte = blk[2 + (k & 15)];
    return static_cast<float>((k < 16 ? byte & 0xF : byte >> 4) - 8) * load_half(blk);
  } else if constexpr (T == DType::Q4_K) {
    const uint8_t* blk = row + (j / kQK_K) * static_cast<int64_t>(sizeof(BlockQ4_K));
    const int e = static_cast<int>(j % kQK_K), c = e / 64, within = e % 64;
    int sc, m;
    q4k_scale_min(2 * c + (within >= 32), blk + 4, &sc, &m);
    const float d = load_half(blk) * static_cast<float>(sc), dm = load_half(blk + 2) * static_cast<float>(m);
    const int byte = blk[16 + 32 * c + within % 32];
    return d * static_cast<float>(within < 32 ? byte & 0xF : byte >> 4) - dm;
  } else {  // Q6_K
    const uint8_t* blk = row + (j / kQK_K) * static_cast<int64_t>(sizeof(BlockQ6_K));
    const int e = static_cast<int>(j % kQK_K), h = e / 128, k = e % 128 / 32, l = e % 32;
    const uint8_t* ql = blk + 64 * h;
    const int qh = blk[128 + 32 * h + l];
    const int lo = k & 1 ? ql[l + 32] : ql[l];
    const int q = ((k < 2 ? lo & 0xF : lo >> 4) | (((qh >> (2 * k)) & 3) << 4)) - 32;
    const int sc = static_cast<int8_t>(blk[192 + 8 * h + l / 16 + 2 * k]);
    return (load_half(blk + 208) * static_cast<float>(sc)) * static_cast<float>(q);
  }
}

}  // namespace kv::cuda
