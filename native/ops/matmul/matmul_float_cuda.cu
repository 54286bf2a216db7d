// matmul for F32, F16 and BF16 weights on the GPU (see matmul_cuda.cu for the activation conversion).
// Products of f16/bf16 values are exact in f32, so every path computes sum_k x'[i, k] W[r, k] in f32 from
// the same inputs as the CPU kernel; only the summation order differs (tolerance ~1e-6 of sum |x w|).
//
// m <= 8 (decode): matmul_rows_kernel, one warp per weight row r and a tile of C x rows; lanes stride
//   over k (coalesced), C fmaf accumulators per lane, then a warp sum. No shared memory.
// m > 8: matmul_tile_kernel, a 64 x 64 output tile per block of 128 threads, k in steps of 32:
//   1. stage the x tile [64][32] and the W tile [64][32] in shared memory (zero outside the matrices);
//   2. tensor cores (KV_WMMA: sm_80+, or the emulator's nvcuda::wmma with KV_EMU_WMMA; 16-bit only):
//      each warp owns a 32 x 32 quarter as 2 x 2 fragments of 16 x 16 x 16; or the portable path: each
//      thread owns 8 x 4 outputs in registers, fmaf over the staged k;
//   3. outputs go through shared memory ([64][68] floats) and out is written with the bias, so both
//      paths share one launch configuration and epilogue.
//   Barriers: after staging (1), after the products of a k step (the next staging overwrites the tiles),
//   after the outputs are in shared memory (3).
// Shared memory: 2 x 64 x 40 x 2 bytes (16-bit; 33 floats a row for f32) + 64 x 68 x 4 bytes < 48 KB.
#include <type_traits>

#include "ops/matmul/matmul_cuda_internal.cuh"

namespace kv::cuda {

namespace {

constexpr int kRowThreads = 128;  // 4 warps, one weight row each
constexpr int kTileM = 64, kTileN = 64, kTileK = 32, kTileThreads = 128;
constexpr int kTileLdC = kTileN + 4;

template <DType T>
__host__ __device__ constexpr int tile_ld() {
  return T == DType::F32 ? kTileK + 1 : kTileK + 8;  // f32: conflict-free columns; 16-bit: WMMA ldm % 8 == 0
}
template <DType T>
constexpr size_t tile_smem_bytes() {
  return static_cast<size_t>(2 * kTileM * tile_ld<T>()) * (T == DType::F32 ? 4 : 2) + kTileM * kTileLdC * 4;
}

// Element j of a row of W (f32, or f16 / bf16 bits) or of the converted activations, as f32.
template <DType T>
__device__ __forceinline__ float elem(const void* p, int64_t j) {
  if constexpr (T == DType::F32) return static_cast<const float*>(p)[j];
  else if constexpr (T == DType::F16) return half_bits_to_float(static_cast<const uint16_t*>(p)[j]);
  else return bf16_bits_to_float(static_cast<const uint16_t*>(p)[j]);
}

template <DType T, int C>
__global__ void __launch_bounds__(kRowThreads) matmul_rows_kernel(float* out, const void* x, const void* w,
                                                                 const float* bias, int64_t n, int64_t k, int64_t m) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (kRowThreads / 32) + threadIdx.x / 32;
  if (r >= n) return;  // a whole warp
  const int lane = threadIdx.x & 31;
  const int64_t c0 = static_cast<int64_t>(blockIdx.y) * C;
  const int rows = static_cast<int>(min(static_cast<int64_t>(C), m - c0));
  float acc[C];
  for (int c = 0; c < C; ++c) acc[c] = 0.0f;
  for (int64_t j = lane; j < k; j += 32) {
    const float wv = elem<T>(w, r * k + j);
    for (int c = 0; c < C; ++c)
      if (c < rows) acc[c] = fmaf(elem<T>(x, (c0 + c) * k + j), wv, acc[c]);
  }
  const float b = bias ? bias[r] : 0.0f;
  for (int c = 0; c < C; ++c) {
    const float s = warp_sum(acc[c]);
    if (lane == 0 && c < rows) out[(c0 + c) * n + r] = s + b;
  }
}

template <DType T>
__global__ void __launch_bounds__(kTileThreads) matmul_tile_kernel(float* out, const void* x, const void* w,
                                                                  const float* bias, int64_t n, int64_t k, int64_t m) {
  using E = typename std::conditional<T == DType::F32, float, uint16_t>::type;
  constexpr int ld = tile_ld<T>();
  E* xs = reinterpret_cast<E*>(kv_smem);          // [kTileM][ld] x rows
  E* ws = xs + kTileM * ld;                        // [kTileN][ld] W rows
  float* cs = reinterpret_cast<float*>(ws + kTileN * ld);  // [kTileM][kTileLdC] outputs
  const E* xe = static_cast<const E*>(x);
  const E* we = static_cast<const E*>(w);
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * kTileM, col0 = static_cast<int64_t>(blockIdx.x) * kTileN;
  const int tid = threadIdx.x;

#if KV_WMMA
  constexpr bool kTensorCores = T != DType::F32;
#else
  constexpr bool kTensorCores = false;
#endif
#if KV_WMMA
  using T16 = typename std::conditional<T == DType::BF16, __nv_bfloat16, __half>::type;
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> facc[2][2];
  if constexpr (kTensorCores) {
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) nvcuda::wmma::fill_fragment(facc[i][j], 0.0f);
  }
  const int warp_row = (tid / 32) / 2 * 32, warp_col = (tid / 32) % 2 * 32;
#endif
  const int ty = tid / 16, tx = tid % 16;  // portable: rows ty * 8 + i, columns tx + 16 j
  float acc[8][4];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    for (int e = tid; e < kTileM * kTileK; e += kTileThreads) {
      const int i = e / kTileK, kk = e % kTileK;
      const int64_t gk = k0 + kk;
      const bool in_k = gk < k;
      xs[i * ld + kk] = in_k && row0 + i < m ? xe[(row0 + i) * k + gk] : E(0);
      ws[i * ld + kk] = in_k && col0 + i < n ? we[(col0 + i) * k + gk] : E(0);
    }
    __syncthreads();  // 1: tiles staged
    if constexpr (kTensorCores) {
#if KV_WMMA
      using namespace nvcuda;
      for (int kk = 0; kk < kTileK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T16, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T16, wmma::col_major> fb[2];
        for (int i = 0; i < 2; ++i)
          wmma::load_matrix_sync(fa[i], reinterpret_cast<const T16*>(xs) + (warp_row + 16 * i) * ld + kk, ld);
        for (int j = 0; j < 2; ++j)  // W rows are columns of the product: col-major B
          wmma::load_matrix_sync(fb[j], reinterpret_cast<const T16*>(ws) + (warp_col + 16 * j) * ld + kk, ld);
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) wmma::mma_sync(facc[i][j], fa[i], fb[j], facc[i][j]);
      }
#endif
    } else {
      for (int kk = 0; kk < kTileK; ++kk) {
        float xv[8], wv[4];
        for (int i = 0; i < 8; ++i) xv[i] = elem<T>(xs, (ty * 8 + i) * ld + kk);
        for (int j = 0; j < 4; ++j) wv[j] = elem<T>(ws, (tx + 16 * j) * ld + kk);
        for (int i = 0; i < 8; ++i)
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(xv[i], wv[j], acc[i][j]);
      }
    }
    __syncthreads();  // 2: the next k step may overwrite the tiles
  }

  if constexpr (kTensorCores) {
#if KV_WMMA
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        nvcuda::wmma::store_matrix_sync(cs + (warp_row + 16 * i) * kTileLdC + warp_col + 16 * j, facc[i][j], kTileLdC,
                                        nvcuda::wmma::mem_row_major);
#endif
  } else {
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) cs[(ty * 8 + i) * kTileLdC + tx + 16 * j] = acc[i][j];
  }
  __syncthreads();  // 3: the output tile is complete
  for (int e = tid; e < kTileM * kTileN; e += kTileThreads) {
    const int i = e / kTileN, j = e % kTileN;
    const int64_t gi = row0 + i, gj = col0 + j;
    if (gi < m && gj < n) out[gi * n + gj] = cs[i * kTileLdC + j] + (bias ? bias[gj] : 0.0f);
  }
}

template <DType T, int C>
void launch_rows(float* out, const void* x, const WeightView& w, const float* bias, int64_t m, Stream stream) {
  auto* kernel = &matmul_rows_kernel<T, C>;
  const dim3 grid(div_up(w.rows, kRowThreads / 32), div_up(m, C));
  KV_LAUNCH(kernel, grid, kRowThreads, 0, stream)(out, x, w.data, bias, w.rows, w.cols, m);
  KV_CUDA_CHECK_LAUNCH();
}

template <DType T>
void launch(float* out, const void* x, const WeightView& w, const float* bias, int64_t m, Stream stream) {
  if (m > kMatmulRowTile) {
    auto* kernel = &matmul_tile_kernel<T>;
    const dim3 grid(div_up(w.rows, kTileN), div_up(m, kTileM));
    KV_LAUNCH(kernel, grid, kTileThreads, tile_smem_bytes<T>(), stream)(out, x, w.data, bias, w.rows, w.cols, m);
    KV_CUDA_CHECK_LAUNCH();
  } else if (m > 4) {
    launch_rows<T, 8>(out, x, w, bias, m, stream);
  } else if (m > 2) {
    launch_rows<T, 4>(out, x, w, bias, m, stream);
  } else if (m > 1) {
    launch_rows<T, 2>(out, x, w, bias, m, stream);
  } else {
    launch_rows<T, 1>(out, x, w, bias, m, stream);
  }
}

}  // namespace

void matmul_float_cuda(float* out, const CudaActs& a, const WeightView& w, const float* bias, Stream stream) {
  switch (w.dtype) {
    case DType::F32: launch<DType::F32>(out, a.x, w, bias, a.m, stream); break;
    case DType::F16: launch<DType::F16>(out, a.x16, w, bias, a.m, stream); break;
    case DType::BF16: launch<DType::BF16>(out, a.x16, w, bias, a.m, stream); break;
    default: break;
  }
}

}  // namespace kv::cuda
