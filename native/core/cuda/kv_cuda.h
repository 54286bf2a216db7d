// First include of every CUDA source (native/ops/*/*_cuda.cu, native/backends/cuda, test/cuda). The same
// source builds two ways:
//   nvcc (__CUDACC__): the CUDA runtime and its fp16 / bf16 / WMMA headers;
//   a host compiler:   native/cuda_emu, which runs the kernels on the CPU (tests without a GPU).
// Kernels launch through KV_LAUNCH(kernel, grid, block, smem, stream)(args...), which is
// kernel<<<grid, block, smem, stream>>>(args...) under nvcc. A template kernel is launched through a
// function pointer (auto* fn = &k<T, 4>; KV_LAUNCH(fn, ...)), so the macro never sees a comma.
// KV_WMMA selects a kernel's tensor-core path: on the GPU for sm_80+, and in the emulator when a test
// build defines KV_EMU_WMMA (cuda_emu_wmma.h); the portable path is used otherwise.
#pragma once

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
#define KV_LAUNCH(kernel, grid, block, smem, stream) kernel<<<(grid), (block), (smem), (stream)>>>
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define KV_WMMA 1
#else
#define KV_WMMA 0
#endif
#else
#include "cuda_emu/cuda_emu.h"
#define KV_LAUNCH(kernel, grid, block, smem, stream) \
  ::kvemu::launch_config((kernel), #kernel, (grid), (block), static_cast<size_t>(smem), (stream))
#if defined(KV_EMU_WMMA)
#define KV_WMMA 1
#else
#define KV_WMMA 0
#endif
#endif

#include <stdexcept>
#include <string>

// The block's dynamic shared memory (its size is the launch's smem argument). Declared once here at
// global scope: a block-scope `extern __shared__` inside a namespace would name a namespace member,
// which CUDA aliases to the same memory but a host compiler does not.
extern __shared__ __align__(128) unsigned char kv_smem[];

namespace kv::cuda {

/** A CUDA runtime failure, with the call and the place that saw it. */
class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  cudaError_t code() const { return code_; }

 private:
  cudaError_t code_;
};

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  throw CudaError(e, std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") from " +
                         what + " at " + file + ":" + std::to_string(line));
}

/** Blocks of `per` items that cover `n`. */
inline unsigned int div_up(int64_t n, int64_t per) { return static_cast<unsigned int>((n + per - 1) / per); }

}  // namespace kv::cuda

/** Throws kv::cuda::CudaError when a runtime call fails. */
#define KV_CUDA_CHECK(expr)                                                                  \
  do {                                                                                       \
    const cudaError_t kv_cuda_err_ = (expr);                                                 \
    if (kv_cuda_err_ != cudaSuccess) ::kv::cuda::throw_cuda_error(kv_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

/** After a launch: a bad configuration (grid, block, shared memory) surfaces here. */
#define KV_CUDA_CHECK_LAUNCH() KV_CUDA_CHECK(cudaGetLastError())
