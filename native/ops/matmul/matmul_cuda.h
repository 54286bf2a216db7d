// CUDA launcher of matmul (matmul_cuda.cu); what it computes and the shapes: matmul.h.
// w.data, x, out, bias and workspace are device memory. The activations are converted once per call
// into `workspace` (matmul_cuda_workspace_bytes(w.dtype, m, w.cols) bytes, 256-byte aligned):
//   F32         nothing (x is used as it is)
//   F16, BF16   x rounded to f16 / bf16 (round to nearest even), as the CPU kernel does
//   Q8_0, Q4_0  x quantized to Q8_0 blocks with the CPU kernel's rules (d = fp16(amax / 127))
//   Q4_K, Q6_K  x quantized to Q8_K blocks (ggml quantize_row_q8_K_ref) with their 16-element sums
// so the integer parts of the quantized dot products equal the CPU kernel's exactly.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/cuda/stream.h"
#include "core/weight.h"

namespace kv::cuda {

size_t matmul_cuda_workspace_bytes(DType dtype, int64_t m, int64_t k);

void matmul_cuda(float* out, const float* x, const WeightView& w, const float* bias, int64_t m, void* workspace,
                 Stream stream);

}  // namespace kv::cuda
