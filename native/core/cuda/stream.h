// The CUDA stream type for launcher declarations (native/ops/*/<op>_cuda.h), without the CUDA headers:
// cudaStream_t is CUstream_st* both in the CUDA runtime and in native/cuda_emu.
#pragma once

struct CUstream_st;

namespace kv::cuda {
using Stream = CUstream_st*;
}  // namespace kv::cuda
