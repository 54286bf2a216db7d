// silu_mul on the GPU (see silu_mul.h): out[i] = gate[i] / (1 + expf(-gate[i])) * up[i].
//   out  [n] f32 (may alias gate or up: each element is read, then written, by one thread)
//   gate [n] f32
//   up   [n] f32
// The expression of the CPU portable variant, unfused (-fmad=false). expf is CUDA's (<= 2 ulp from the
// correctly rounded value; libm's in the emulator, where the result equals the portable CPU kernel's).
// Launch: grid-stride loop, kThreads threads, at most kMaxBlocks blocks. No shared memory, no barrier.
#include "core/cuda/kv_cuda.h"
#include "ops/silu_mul/silu_mul_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

__global__ void silu_mul_kernel(float* out, const float* gate, const float* up, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

}  // namespace

void silu_mul_cuda(float* out, const float* gate, const float* up, int64_t n, Stream stream) {
  if (n <= 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  KV_LAUNCH(silu_mul_kernel, static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks), kThreads, 0, stream)(
      out, gate, up, n);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
