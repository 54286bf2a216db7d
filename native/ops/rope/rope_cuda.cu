// rope on the GPU (see rope.h): rotates pairs of q or k in place by angle = (float(pos) * position_scale)
// * inv_freq[i], with c = cosf(angle), s = sinf(angle): (x0, x1) <- (x0*c - x1*s, x0*s + x1*c).
//   x         [n_tokens, n_heads, head_dim] f32, in place
//   positions [n_tokens] i32
//   inv_freq  [rope_dim / 2] f32 (core/rope_freqs.h)
// Pairs are (x[2i], x[2i+1]) for kRopeNorm and (x[i], x[i + rope_dim/2]) for kRopeNeox; elements past
// rope_dim are untouched. Same float expressions as the CPU portable variant, unfused (-fmad=false);
// cosf/sinf are CUDA's full-range ones (<= 2 ulp; libm's in the emulator, which then matches the CPU
// kernel bit for bit).
// Launch: grid (n_tokens, ceil(half / kThreads)); thread = one pair index i of one token, which computes
// its cos/sin once and rotates that pair in every head. No shared memory, no barrier.
// Invariants: rope_dim even, 0 <= rope_dim <= head_dim, layout kRopeNorm or kRopeNeox; n_tokens < 2^31.
#include "core/cuda/kv_cuda.h"
#include "ops/rope/rope.h"
#include "ops/rope/rope_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 64;

__global__ void rope_kernel(float* x, int64_t n_heads, int64_t head_dim, int64_t half, const int32_t* positions,
                            const float* inv_freq, float position_scale, int32_t layout) {
  const int64_t t = blockIdx.x;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (i >= half) return;
  const float p = static_cast<float>(positions[t]) * position_scale;
  const float angle = p * inv_freq[i];
  const float c = cosf(angle), s = sinf(angle);
  // Offsets of the pair's two elements inside a head.
  const int64_t ia = layout == kRopeNeox ? i : 2 * i;
  const int64_t ib = layout == kRopeNeox ? i + half : 2 * i + 1;
  float* xt = x + t * n_heads * head_dim;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* xh = xt + h * head_dim;
    const float x0 = xh[ia], x1 = xh[ib];
    xh[ia] = x0 * c - x1 * s;
    xh[ib] = x0 * s + x1 * c;
  }
}

}  // namespace

void rope_cuda(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, const int32_t* positions,
               const float* inv_freq, float position_scale, int32_t layout, Stream stream) {
  const int64_t half = rope_dim / 2;
  if (n_tokens <= 0 || n_heads <= 0 || half <= 0) return;
  const dim3 grid(static_cast<unsigned>(n_tokens), div_up(half, kThreads));
  KV_LAUNCH(rope_kernel, grid, kThreads, 0, stream)(x, n_heads, head_dim, half, positions, inv_freq, position_scale, layout);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
