// matmul on the GPU (see matmul.h and matmul_cuda.h): out[i, r] = sum_k x[i, k] W[r, k] (+ bias[r]).
// This file converts the activations once per call, exactly as the CPU kernel does for the weight type,
// then hands over to matmul_float_cuda.cu or matmul_quant_cuda.cu:
//   F16 / BF16   round_acts_kernel: x -> f16 / bf16 bits, round to nearest even
//   Q8_0 / Q4_0  quantize_q8_0_kernel, one warp per 32-block (lane = element): amax over the block,
//                id = 127 / amax, q = round-half-even(x * id) saturated to int8 (NaN -> -128),
//                d = fp16-rounded amax / 127 (ggml's x86 quantize_row_q8_0, the CPU portable rules)
//   Q4_K / Q6_K  quantize_q8_k_kernel, one warp per 256-block (lane = 8 consecutive elements): the first
//                element of largest magnitude `max`, iscale = -127 / max, q = min(127, rne(iscale x)),
//                sums of each 16 quants, d = 1 / iscale (ggml quantize_row_q8_K_ref)
// Launch: 256 threads (8 warps, one block of x each); no shared memory, no block barrier.
// Workspace layout: quants or f16/bf16 values [m, k] | block scales [m, k / block] | Q8_K sums [m, k / 16],
// each part 256-byte aligned.
#include "ops/matmul/matmul.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/matmul/matmul_cuda_internal.cuh"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

size_t align256(size_t n) { return (n + 255) & ~size_t(255); }

template <DType T>
__global__ void round_acts_kernel(uint16_t* out, const float* x, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = T == DType::F16 ? float_to_half_bits(x[i]) : float_to_bf16_bits(x[i]);
  }
}

__global__ void quantize_q8_0_kernel(int8_t* qs, float* d, const float* x, int64_t blocks) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (b >= blocks) return;  // a whole warp: no barrier below spans warps
  const int lane = threadIdx.x & 31;
  const float v = x[b * 32 + lane];
  const float amax = warp_max(fabsf(v));
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  const float s = v * id;
  qs[b * 32 + lane] = isnan(s) ? static_cast<int8_t>(-128)
                               : static_cast<int8_t>(__float2int_rn(fminf(fmaxf(s, -128.0f), 127.0f)));
  if (lane == 0) d[b] = __half2float(__float2half_rn(amax / 127.0f));
}

__global__ void quantize_q8_k_kernel(int8_t* qs, float* d, int16_t* bsums, const float* x, int64_t blocks) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (b >= blocks) return;
  const int lane = threadIdx.x & 31;
  const float* xb = x + b * 256 + lane * 8;
  float v[8];
  float amax = 0.0f;
  for (int j = 0; j < 8; ++j) {
    v[j] = xb[j];
    amax = fmaxf(amax, fabsf(v[j]));
  }
  amax = warp_max(amax);
  int first = 256;  // this lane's first element of largest magnitude, as an index in the block
  for (int j = 7; j >= 0; --j)
    if (fabsf(v[j]) == amax) first = lane * 8 + j;
  for (int offset = 16; offset > 0; offset >>= 1) first = min(first, __shfl_xor_sync(kFullMask, first, offset));
  int8_t* q = qs + b * 256 + lane * 8;
  if (amax == 0.0f) {
    for (int j = 0; j < 8; ++j) q[j] = 0;
    if ((lane & 1) == 0) bsums[b * 16 + lane / 2] = 0;
    if (lane == 0) d[b] = 0.0f;
    return;
  }
  const float iscale = -127.0f / x[b * 256 + first];
  int sum = 0;
  for (int j = 0; j < 8; ++j) {
    const int qi = min(127, __float2int_rn(iscale * v[j]));
    q[j] = static_cast<int8_t>(qi);
    sum += qi;
  }
  sum += __shfl_xor_sync(kFullMask, sum, 1);  // lanes 2g and 2g + 1 hold the 16 quants of sum g
  if ((lane & 1) == 0) bsums[b * 16 + lane / 2] = static_cast<int16_t>(sum);
  if (lane == 0) d[b] = 1.0f / iscale;
}

unsigned grid_for(int64_t items, int64_t per_block) {
  const int64_t blocks = (items + per_block - 1) / per_block;
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

}  // namespace

size_t matmul_cuda_workspace_bytes(DType dtype, int64_t m, int64_t k) {
  const size_t mk = static_cast<size_t>(m * k);
  switch (dtype) {
    case DType::F32: return 0;
    case DType::F16:
    case DType::BF16: return align256(mk * 2);
    case DType::Q8_0:
    case DType::Q4_0: return align256(mk) + align256(mk / kQK8_0 * 4);
    case DType::Q4_K:
    case DType::Q6_K: return align256(mk) + align256(mk / kQK_K * 4) + align256(mk / 16 * 2);
  }
  return 0;
}

void matmul_cuda(float* out, const float* x, const WeightView& w, const float* bias, int64_t m, void* workspace,
                 Stream stream) {
  matmul_check_shape(w, m);
  const int64_t n = w.rows, k = w.cols;
  if (m <= 0 || n <= 0) return;
  CudaActs a;
  a.m = m;
  a.k = k;
  uint8_t* ws = static_cast<uint8_t*>(workspace);
  const size_t mk = static_cast<size_t>(m * k);
  switch (w.dtype) {
    case DType::F32:
      a.x = x;
      break;
    case DType::F16:
    case DType::BF16: {
      auto* x16 = reinterpret_cast<uint16_t*>(ws);
      auto* kernel = w.dtype == DType::F16 ? &round_acts_kernel<DType::F16> : &round_acts_kernel<DType::BF16>;
      KV_LAUNCH(kernel, grid_for(static_cast<int64_t>(mk), kThreads), kThreads, 0, stream)(x16, x, static_cast<int64_t>(mk));
      KV_CUDA_CHECK_LAUNCH();
      a.x16 = x16;
      break;
    }
    case DType::Q8_0:
    case DType::Q4_0: {
      auto* qs = reinterpret_cast<int8_t*>(ws);
      auto* d = reinterpret_cast<float*>(ws + align256(mk));
      const int64_t blocks = static_cast<int64_t>(mk) / kQK8_0;
      KV_LAUNCH(quantize_q8_0_kernel, div_up(blocks, kWarps), kThreads, 0, stream)(qs, d, x, blocks);
      KV_CUDA_CHECK_LAUNCH();
      a.qs = qs;
      a.d = d;
      break;
    }
    case DType::Q4_K:
    case DType::Q6_K: {
      auto* qs = reinterpret_cast<int8_t*>(ws);
      auto* d = reinterpret_cast<float*>(ws + align256(mk));
      auto* bsums = reinterpret_cast<int16_t*>(ws + align256(mk) + align256(mk / kQK_K * 4));
      const int64_t blocks = static_cast<int64_t>(mk) / kQK_K;
      KV_LAUNCH(quantize_q8_k_kernel, div_up(blocks, kWarps), kThreads, 0, stream)(qs, d, bsums, x, blocks);
      KV_CUDA_CHECK_LAUNCH();
      a.qs = qs;
      a.d = d;
      a.bsums = bsums;
      break;
    }
  }
  if (w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16) {
    matmul_float_cuda(out, a, w, bias, stream);
  } else {
    matmul_quant_cuda(out, a, w, bias, stream);
  }
}

}  // namespace kv::cuda
