// kv_cache_write on the GPU (see kv_cache_write.h): this step's K and V rows into the paged cache.
//   k_cache, v_cache [num_blocks, n_kv_heads, block_size, head_dim] kv_dtype (F32, F16, BF16), in place
//   k, v             [n_tokens, n_kv_heads, head_dim] f32
//   slot_mapping     [n_tokens] i32, -1 = skip
// Conversions round to nearest even with the CPU kernel's NaN rules (device_util.cuh), so the cache
// holds the same bits as after kv_cache_write_cpu. Like the CPU kernel, when two tokens share a slot the
// later one wins: a token's block first checks (__syncthreads_or over a strided scan of the later
// slots) whether a later token writes the same slot, and then writes nothing. The scan costs
// O(n_tokens) per token; slots are distinct in practice, the check only makes the result order-free.
// Launch: grid.x = n_tokens, kThreads threads striding over the token's n_kv_heads * head_dim values.
// Invariants (checked by callers): every slot is -1 or < num_blocks * block_size; n_tokens < 2^31.
#include "core/cuda/device_util.cuh"
#include "ops/kv_cache_write/kv_cache_write_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;

template <DType T>
__device__ __forceinline__ void store(void* cache, int64_t index, float x) {
  if constexpr (T == DType::F16) static_cast<uint16_t*>(cache)[index] = float_to_half_bits(x);
  else if constexpr (T == DType::BF16) static_cast<uint16_t*>(cache)[index] = float_to_bf16_bits(x);
  else static_cast<float*>(cache)[index] = x;
}

template <DType T>
__global__ void kv_cache_write_kernel(void* k_cache, void* v_cache, const float* k, const float* v,
                                      const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads,
                                      int64_t head_dim, int64_t block_size) {
  const int64_t t = blockIdx.x;
  const int32_t slot = slot_mapping[t];
  if (slot < 0) return;  // the whole block leaves together: no barrier below is left waiting
  int overwritten = 0;
  for (int64_t u = t + 1 + threadIdx.x; u < n_tokens; u += blockDim.x) overwritten |= slot_mapping[u] == slot;
  if (__syncthreads_or(overwritten)) return;
  const int64_t block = slot / block_size, off = slot % block_size;
  const int64_t row = n_kv_heads * head_dim;
  const float* ks = k + t * row;
  const float* vs = v + t * row;
  for (int64_t e = threadIdx.x; e < row; e += blockDim.x) {
    const int64_t h = e / head_dim, d = e % head_dim;
    const int64_t dst = ((block * n_kv_heads + h) * block_size + off) * head_dim + d;
    store<T>(k_cache, dst, ks[e]);
    store<T>(v_cache, dst, vs[e]);
  }
}

template <DType T>
void launch(void* k_cache, void* v_cache, const float* k, const float* v, const int32_t* slot_mapping, int64_t n_tokens,
            int64_t n_kv_heads, int64_t head_dim, int64_t block_size, Stream stream) {
  auto* kernel = &kv_cache_write_kernel<T>;
  KV_LAUNCH(kernel, static_cast<unsigned>(n_tokens), kThreads, 0, stream)(k_cache, v_cache, k, v, slot_mapping, n_tokens,
                                                                          n_kv_heads, head_dim, block_size);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void kv_cache_write_cuda(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                         const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                         int64_t block_size, Stream stream) {
  if (n_tokens <= 0 || n_kv_heads <= 0 || head_dim <= 0) return;
  switch (kv_dtype) {
    case DType::F16:
      launch<DType::F16>(k_cache, v_cache, k, v, slot_mapping, n_tokens, n_kv_heads, head_dim, block_size, stream);
      break;
    case DType::BF16:
      launch<DType::BF16>(k_cache, v_cache, k, v, slot_mapping, n_tokens, n_kv_heads, head_dim, block_size, stream);
      break;
    default:
      launch<DType::F32>(k_cache, v_cache, k, v, slot_mapping, n_tokens, n_kv_heads, head_dim, block_size, stream);
      break;
  }
}

}  // namespace kv::cuda
