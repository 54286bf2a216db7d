// embedding on the GPU (see embedding.h): out[i, :] = dequantize(table[ids[i], :]).
//   out   [n, dim]     f32
//   table [vocab, dim] any DType (rows of dtype_row_bytes(dtype, dim) bytes, 2-byte aligned)
//   ids   [n]          i32 in [0, vocab)
// Each element is decoded with dequantize_cuda.cuh's exact formulas, so a row equals
// dequantize_row_cpu's (and the CPU embedding's) bit for bit.
// Launch: grid.x = n (one block per token), kThreads threads striding over dim. No barrier.
// Invariants: dim a multiple of dtype_block_elems(dtype); n < 2^31.
#include "ops/dequantize/dequantize_cuda.cuh"
#include "ops/embedding/embedding_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 256;

template <DType T>
__global__ void embedding_kernel(float* out, const uint8_t* table, int64_t row_bytes, int64_t dim, const int32_t* ids) {
  const uint8_t* row = table + static_cast<int64_t>(ids[blockIdx.x]) * row_bytes;
  float* o = out + static_cast<int64_t>(blockIdx.x) * dim;
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) o[j] = dequant_element<T>(row, j);
}

template <DType T>
void launch(float* out, const void* table, int64_t dim, const int32_t* ids, int64_t n, Stream stream) {
  auto* kernel = &embedding_kernel<T>;
  const int threads = static_cast<int>(dim >= kThreads ? kThreads : (dim + 31) / 32 * 32);
  KV_LAUNCH(kernel, static_cast<unsigned>(n), threads, 0, stream)(out, static_cast<const uint8_t*>(table),
                                                                  dtype_row_bytes(T, dim), dim, ids);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void embedding_cuda(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n, Stream stream) {
  if (n <= 0 || dim <= 0) return;
  switch (dtype) {
    case DType::F32: launch<DType::F32>(out, table, dim, ids, n, stream); break;
    case DType::F16: launch<DType::F16>(out, table, dim, ids, n, stream); break;
    case DType::BF16: launch<DType::BF16>(out, table, dim, ids, n, stream); break;
    case DType::Q8_0: launch<DType::Q8_0>(out, table, dim, ids, n, stream); break;
    case DType::Q4_0: launch<DType::Q4_0>(out, table, dim, ids, n, stream); break;
    case DType::Q4_K: launch<DType::Q4_K>(out, table, dim, ids, n, stream); break;
    case DType::Q6_K: launch<DType::Q6_K>(out, table, dim, ids, n, stream); break;
  }
}

}  // namespace kv::cuda
