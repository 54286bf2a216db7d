// argmax_rows on the GPU (see argmax.h): out[r] = the index the scalar loop
//   best = 0; for i in 1..cols-1: if x[i] > x[best] then best = i
// returns: 0 when x[r, 0] is NaN (nothing compares greater), else the first index of the largest
// non-NaN value (-0 and +0 tie). Each thread keeps the first maximum of its strided elements; the block
// then merges (value, index) pairs preferring the larger value, then the lower index.
// Launch: one block of kThreads per row (grid.x = rows). One barrier (the warp leaders' pairs).
#include "core/cuda/device_util.cuh"
#include "ops/argmax/argmax_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void keep_better(float& bv, int64_t& bi, float v, int64_t i) {
  if (v > bv || (v == bv && i < bi)) {
    bv = v;
    bi = i;
  }
}

__global__ void argmax_rows_kernel(int32_t* out, const float* x, int64_t cols) {
  __shared__ float values[32];
  __shared__ int64_t indices[32];
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * cols;
  if (isnan(xr[0])) {  // uniform over the block: every thread reads the same element
    if (threadIdx.x == 0) out[blockIdx.x] = 0;
    return;
  }
  float bv = -INFINITY;
  int64_t bi = cols;  // past every index: any -inf element is taken over it
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) keep_better(bv, bi, xr[i], i);  // NaN never compares
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, offset);
    const int64_t oi = __shfl_xor_sync(kFullMask, bi, offset);
    keep_better(bv, bi, ov, oi);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    values[warp] = bv;
    indices[warp] = bi;
  }
  __syncthreads();
  if (warp != 0) return;
  bv = -INFINITY;
  bi = cols;
  if (lane < static_cast<int>(blockDim.x >> 5)) {
    bv = values[lane];
    bi = indices[lane];
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, offset);
    const int64_t oi = __shfl_xor_sync(kFullMask, bi, offset);
    keep_better(bv, bi, ov, oi);
  }
  if (lane == 0) out[blockIdx.x] = static_cast<int32_t>(bi < cols ? bi : 0);
}

}  // namespace

void argmax_rows_cuda(int32_t* out, const float* x, int64_t rows, int64_t cols, Stream stream) {
  if (rows <= 0 || cols <= 0) return;
  KV_LAUNCH(argmax_rows_kernel, static_cast<unsigned>(rows), kThreads, 0, stream)(out, x, cols);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
