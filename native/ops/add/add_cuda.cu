// add on the GPU (see add.h): out[i] = a[i] + b[i], the residual connection. One IEEE add per element:
// bit-identical to add_cpu. Launch: grid-stride loop, kThreads threads, at most kMaxBlocks blocks.
#include "core/cuda/kv_cuda.h"
#include "ops/add/add_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

__global__ void add_kernel(float* out, const float* a, const float* b, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = a[i] + b[i];
}

}  // namespace

void add_cuda(float* out, const float* a, const float* b, int64_t n, Stream stream) {
  if (n <= 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  KV_LAUNCH(add_kernel, static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks), kThreads, 0, stream)(out, a, b, n);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
