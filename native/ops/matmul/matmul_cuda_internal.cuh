// Internal interface of the CUDA matmul files: matmul_cuda.cu (entry, activation conversion),
// matmul_float_cuda.cu (F32 / F16 / BF16 weights) and matmul_quant_cuda.cu (Q8_0 / Q4_0 / Q4_K / Q6_K).
#pragma once
#include <cstdint>

#include "core/cuda/device_util.cuh"
#include "core/cuda/stream.h"
#include "core/weight.h"

namespace kv::cuda {

// The activations of one call after conversion (device pointers; see matmul_cuda.h).
struct CudaActs {
  int64_t m = 0, k = 0;
  const float* x = nullptr;       // F32 weights: [m, k] f32
  const uint16_t* x16 = nullptr;  // F16 / BF16 weights: [m, k] f16 / bf16 bits
  const int8_t* qs = nullptr;     // quantized weights: [m, k] int8 quants (Q8_0 or Q8_K blocks)
  const float* d = nullptr;       // [m, k / block] block scales
  const int16_t* bsums = nullptr; // Q8_K: [m, k / 16] sums of 16 quants
};

/** Rows of x per tile in the row kernels (one warp per weight row serves a tile of x rows). */
constexpr int kMatmulRowTile = 8;

void matmul_float_cuda(float* out, const CudaActs& a, const WeightView& w, const float* bias, Stream stream);
void matmul_quant_cuda(float* out, const CudaActs& a, const WeightView& w, const float* bias, Stream stream);

/** Four consecutive bytes at a 2-byte aligned address as one little-endian word. */
__device__ __forceinline__ int load_int_b2(const uint8_t* p) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
  return static_cast<int>(static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16));
}

}  // namespace kv::cuda
