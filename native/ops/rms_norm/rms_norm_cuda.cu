// rms_norm on the GPU (see rms_norm.h): out[r, i] = (x[r, i] * (1 / sqrt(mean_i(x[r, :]^2) + eps))) * w[i].
//   out    [rows, dim] f32 (may alias x: a thread writes only the elements it read itself)
//   x      [rows, dim] f32
//   weight [dim]       f32
// Numerics as rms_norm_cpu: squares rounded to float, summed in double, the mean rounded to float,
// scale = 1 / sqrtf(mean + eps) (IEEE sqrt and division), then (x * scale) * w unfused (the build uses
// -fmad=false). Only the order of the double sum differs (per-thread strided partials, then a tree),
// so the output equals the CPU kernel's unless that order moves the float mean by an ulp.
// Launch: one block per row, kThreads threads (fewer for short rows, always whole warps); grid.x = rows.
// Invariants: dim >= 1; rows <= 2^31 - 1.
#include "core/cuda/device_util.cuh"
#include "ops/rms_norm/rms_norm_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void rms_norm_kernel(float* out, const float* x, const float* weight, int64_t dim, float eps) {
  __shared__ double partials[32];
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
  float* yr = out + static_cast<int64_t>(blockIdx.x) * dim;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i];
    sum += static_cast<double>(v * v);
  }
  sum = block_sum(sum, partials);
  const float mean = static_cast<float>(sum / static_cast<double>(dim));
  const float scale = 1.0f / sqrtf(mean + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = (xr[i] * scale) * weight[i];
}

}  // namespace

void rms_norm_cuda(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps, Stream stream) {
  if (rows <= 0) return;
  const int threads = static_cast<int>(dim >= kThreads ? kThreads : (dim + 31) / 32 * 32);
  KV_LAUNCH(rms_norm_kernel, static_cast<unsigned>(rows), threads, 0, stream)(out, x, weight, dim, eps);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
