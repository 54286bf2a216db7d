// matmul for quantized weights on the GPU, against the activations quantized by matmul_cuda.cu, with the
// CPU kernel's block math (matmul.h): integer dot products of the quants (dp4a), exact, then per block
//   Q8_0 / Q4_0: acc += (d_w * d_x) * float(isum)
//   Q4_K:        acc += (d_w d_x) * float(sum_j sc_j dot_j) - (dmin_w d_x) * float(sum_j mn_j (bsum_2j + bsum_2j+1))
//   Q6_K:        acc += (d_w d_x) * float(sum_g sc_g dot(q6_g - 32, a_g))
// so each block's contribution is the CPU kernel's bit for bit and only the order in which blocks are
// summed differs (lanes take interleaved blocks, then a warp sum).
// Launch: one warp per weight row r (4 warps per block) and a tile of C <= 8 x rows (grid.y); the weight
// row is decoded once per tile. Lanes split blocks: Q8_0 / Q4_0 four lanes per 32-block (8 quants each,
// 8 blocks per step); K-quants eight lanes per 256-block (32 quants each, 4 blocks per step). Each
// block's integer sums meet in its lane group through xor shuffles (all lanes take part every step, also
// those past the last block, with zeros). No shared memory, no block barrier.
// Prefill uses the same kernel per tile of 8 rows (weights come from L2 after the first tile); a
// tensor-core kernel for large m is future work.
#include "ops/dequantize/dequantize_cuda.cuh"
#include "ops/matmul/matmul_cuda_internal.cuh"

namespace kv::cuda {

namespace {

constexpr int kThreads = 128;

// Q4_0 nibbles and Q6_K 6-bit values are non-negative and below 64: they go through dp4a as bytes and
// their offset (8 or 32) is taken off through the sum of the activations.
__device__ __forceinline__ int dot8(const int (&w)[2], const int8_t* x) {
  const int* xi = reinterpret_cast<const int*>(x);
  return __dp4a(w[1], xi[1], __dp4a(w[0], xi[0], 0));
}
__device__ __forceinline__ int sum8(const int8_t* x) {
  const int* xi = reinterpret_cast<const int*>(x);
  return __dp4a(0x01010101, xi[1], __dp4a(0x01010101, xi[0], 0));
}

template <DType T, int C>
__global__ void __launch_bounds__(kThreads) matmul_q8_0_kernel(float* out, const int8_t* xq, const float* xd,
                                                              const uint8_t* w, const float* bias, int64_t n,
                                                              int64_t k, int64_t m) {
  constexpr int64_t kBlockBytes = T == DType::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  if (r >= n) return;  // a whole warp
  const int lane = threadIdx.x & 31, sub = lane & 3, group = lane >> 2;
  const int64_t c0 = static_cast<int64_t>(blockIdx.y) * C, nb = k / 32;
  const int rows = static_cast<int>(min(static_cast<int64_t>(C), m - c0));
  const uint8_t* wr = w + r * nb * kBlockBytes;
  float acc[C];
  for (int c = 0; c < C; ++c) acc[c] = 0.0f;
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    const int64_t b = b0 + group;
    const bool valid = b < nb;
    int wq[2] = {0, 0};
    float dw = 0.0f;
    if (valid) {
      const uint8_t* blk = wr + b * kBlockBytes;
      dw = load_half(blk);
      if constexpr (T == DType::Q8_0) {
        wq[0] = load_int_b2(blk + 2 + 8 * sub);
        wq[1] = load_int_b2(blk + 6 + 8 * sub);
      } else {  // elements 8 sub .. 8 sub + 7: low nibbles of bytes 0..15 are elements 0..15, high ones 16..31
        const int shift = sub < 2 ? 0 : 4;
        wq[0] = (load_int_b2(blk + 2 + 8 * (sub & 1)) >> shift) & 0x0F0F0F0F;
        wq[1] = (load_int_b2(blk + 6 + 8 * (sub & 1)) >> shift) & 0x0F0F0F0F;
      }
    }
    int isum[C];
    for (int c = 0; c < C; ++c) {
      isum[c] = 0;
      if (valid && c < rows) {
        const int8_t* xa = xq + (c0 + c) * k + b * 32 + 8 * sub;
        isum[c] = dot8(wq, xa);
        if constexpr (T == DType::Q4_0) isum[c] -= 8 * sum8(xa);
      }
      isum[c] += __shfl_xor_sync(kFullMask, isum[c], 1);
      isum[c] += __shfl_xor_sync(kFullMask, isum[c], 2);
    }
    if (valid && sub == 0) {
      for (int c = 0; c < C; ++c)
        if (c < rows) acc[c] += (dw * xd[(c0 + c) * nb + b]) * static_cast<float>(isum[c]);
    }
  }
  const float bv = bias ? bias[r] : 0.0f;
  for (int c = 0; c < C; ++c) {
    const float s = warp_sum(acc[c]);
    if (lane == 0 && c < rows) out[(c0 + c) * n + r] = s + bv;
  }
}

template <DType T, int C>
__global__ void __launch_bounds__(kThreads) matmul_kquant_kernel(float* out, const int8_t* xq, const float* xd,
                                                                const int16_t* xbs, const uint8_t* w,
                                                                const float* bias, int64_t n, int64_t k, int64_t m) {
  constexpr bool kQ6 = T == DType::Q6_K;
  constexpr int64_t kBlockBytes = kQ6 ? sizeof(BlockQ6_K) : sizeof(BlockQ4_K);
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  if (r >= n) return;
  const int lane = threadIdx.x & 31, sub = lane & 7, group = lane >> 3;  // sub: quants 32 sub .. 32 sub + 31
  const int64_t c0 = static_cast<int64_t>(blockIdx.y) * C, nb = k / 256;
  const int rows = static_cast<int>(min(static_cast<int64_t>(C), m - c0));
  const uint8_t* wr = w + r * nb * kBlockBytes;
  float acc[C];
  for (int c = 0; c < C; ++c) acc[c] = 0.0f;
  for (int64_t b0 = 0; b0 < nb; b0 += 4) {
    const int64_t b = b0 + group;
    const bool valid = b < nb;
    int wq[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 32 quants as bytes: Q4_K nibbles, Q6_K q6 in 0..63
    int sc0 = 0, sc1 = 0, mn = 0;           // Q4_K: scale and min of the sub-block; Q6_K: scales of its two halves
    float d = 0.0f, dmin = 0.0f;
    if (valid) {
      const uint8_t* blk = wr + b * kBlockBytes;
      if constexpr (kQ6) {
        const int h = sub / 4, kq = sub % 4;  // element 32 sub + l: l of quarter kq of half h
        const uint8_t* ql = blk + 64 * h + (kq & 1 ? 32 : 0);
        const uint8_t* qh = blk + 128 + 32 * h;
        for (int j = 0; j < 8; ++j) {
          const int lo = kq < 2 ? load_int_b2(ql + 4 * j) & 0x0F0F0F0F : (load_int_b2(ql + 4 * j) >> 4) & 0x0F0F0F0F;
          const int hi = (load_int_b2(qh + 4 * j) >> (2 * kq)) & 0x03030303;
          wq[j] = lo | (hi << 4);
        }
        sc0 = static_cast<int8_t>(blk[192 + 2 * sub]);
        sc1 = static_cast<int8_t>(blk[192 + 2 * sub + 1]);
        d = load_half(blk + 208);
      } else {
        const int shift = (sub & 1) ? 4 : 0;  // sub-block 2c: low nibbles of bytes 32c..; 2c + 1: high ones
        const uint8_t* qs = blk + 16 + 32 * (sub / 2);
        for (int j = 0; j < 8; ++j) wq[j] = (load_int_b2(qs + 4 * j) >> shift) & 0x0F0F0F0F;
        q4k_scale_min(sub, blk + 4, &sc0, &mn);
        d = load_half(blk);
        dmin = load_half(blk + 2);
      }
    }
    int isum[C], imin[C];
    for (int c = 0; c < C; ++c) {
      isum[c] = imin[c] = 0;
      if (valid && c < rows) {
        const int8_t* xa = xq + (c0 + c) * k + b * 256 + 32 * sub;
        const int16_t* bs = xbs + (c0 + c) * (k / 16) + b * 16 + 2 * sub;
        int lo = 0, hi = 0;
        for (int j = 0; j < 4; ++j) lo = __dp4a(wq[j], reinterpret_cast<const int*>(xa)[j], lo);
        for (int j = 4; j < 8; ++j) hi = __dp4a(wq[j], reinterpret_cast<const int*>(xa)[j], hi);
        if constexpr (kQ6) {
          isum[c] = sc0 * (lo - 32 * bs[0]) + sc1 * (hi - 32 * bs[1]);
        } else {
          isum[c] = sc0 * (lo + hi);
          imin[c] = mn * (bs[0] + bs[1]);
        }
      }
      for (int offset = 1; offset < 8; offset <<= 1) {
        isum[c] += __shfl_xor_sync(kFullMask, isum[c], offset);
        if constexpr (!kQ6) imin[c] += __shfl_xor_sync(kFullMask, imin[c], offset);
      }
    }
    if (valid && sub == 0) {
      for (int c = 0; c < C; ++c) {
        if (c >= rows) continue;
        const float da = xd[(c0 + c) * nb + b];
        if constexpr (kQ6) acc[c] += (d * da) * static_cast<float>(isum[c]);
        else acc[c] += (d * da) * static_cast<float>(isum[c]) - (dmin * da) * static_cast<float>(imin[c]);
      }
    }
  }
  const float bv = bias ? bias[r] : 0.0f;
  for (int c = 0; c < C; ++c) {
    const float s = warp_sum(acc[c]);
    if (lane == 0 && c < rows) out[(c0 + c) * n + r] = s + bv;
  }
}

template <DType T, int C>
void launch(float* out, const CudaActs& a, const WeightView& w, const float* bias, Stream stream) {
  const dim3 grid(div_up(w.rows, kThreads / 32), div_up(a.m, C));
  const auto* wb = static_cast<const uint8_t*>(w.data);
  if constexpr (T == DType::Q8_0 || T == DType::Q4_0) {
    auto* kernel = &matmul_q8_0_kernel<T, C>;
    KV_LAUNCH(kernel, grid, kThreads, 0, stream)(out, a.qs, a.d, wb, bias, w.rows, w.cols, a.m);
  } else {
    auto* kernel = &matmul_kquant_kernel<T, C>;
    KV_LAUNCH(kernel, grid, kThreads, 0, stream)(out, a.qs, a.d, a.bsums, wb, bias, w.rows, w.cols, a.m);
  }
  KV_CUDA_CHECK_LAUNCH();
}

template <DType T>
void launch_tiles(float* out, const CudaActs& a, const WeightView& w, const float* bias, Stream stream) {
  if (a.m > 4) launch<T, kMatmulRowTile>(out, a, w, bias, stream);
  else if (a.m > 2) launch<T, 4>(out, a, w, bias, stream);
  else if (a.m > 1) launch<T, 2>(out, a, w, bias, stream);
  else launch<T, 1>(out, a, w, bias, stream);
}

}  // namespace

void matmul_quant_cuda(float* out, const CudaActs& a, const WeightView& w, const float* bias, Stream stream) {
  switch (w.dtype) {
    case DType::Q8_0: launch_tiles<DType::Q8_0>(out, a, w, bias, stream); break;
    case DType::Q4_0: launch_tiles<DType::Q4_0>(out, a, w, bias, stream); break;
    case DType::Q4_K: launch_tiles<DType::Q4_K>(out, a, w, bias, stream); break;
    case DType::Q6_K: launch_tiles<DType::Q6_K>(out, a, w, bias, stream); break;
    default: break;
  }
}

}  // namespace kv::cuda
