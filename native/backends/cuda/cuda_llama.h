// The CUDA backend of a LlamaModel: the same op list as models/llama.cc, run by the CUDA kernels of
// native/ops/*/*_cuda.cu on one GPU (or on the CPU through native/cuda_emu in tests).
//   - The model's bound weights (LlamaModel's views of the mapped files) are copied to device memory once;
//     the KV cache lives there too ([num_blocks, n_kv_heads, block_size, head_dim] per layer and K / V).
//   - One stream. Per step the StepInput arrays and the sampling arrays are packed into one pinned host
//     buffer and copied up once; the outputs (tokens, logprobs, top-n, raw logits when asked) come back
//     in one copy, then the stream is synchronized.
//   - Activations, the matmul / attention / sampling workspaces grow to the largest step and are reused.
// Plain C++ interface (no CUDA types), so the N-API layer includes it from host-compiled code.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/step_input.h"
#include "models/llama.h"
#include "ops/sample/sample.h"

namespace kv::cuda {

struct CudaKvConfig {
  int64_t num_blocks = 0;
  int64_t block_size = 16;
  DType dtype = DType::F16;  // F32, F16 or BF16
};

/** The sampling arrays of a step (see ops/sample/sample.h); params has one entry per logits row. */
struct SamplingArrays {
  const SampleParams* params = nullptr;
  const int32_t* history = nullptr;
  int64_t history_len = 0;
  const int32_t* bias_token_ids = nullptr;
  const float* bias_values = nullptr;
  int64_t bias_len = 0;
  int32_t max_logprobs = 0;
};

struct CudaStepResult {
  std::vector<int32_t> token_ids;                 // [rows]
  std::vector<float> logprobs;                    // [rows] (sampling only)
  std::vector<int32_t> top_ids;                   // [rows, max_logprobs]
  std::vector<float> top_logprobs;                // [rows, max_logprobs]
  std::vector<float> logits;                      // [rows, vocab] raw logits, when StepInput.return_logits
};

class CudaLlamaModel {
 public:
  /**
   * Copies `model`'s weights to device `device` and allocates the KV cache there. `model` must outlive
   * this object only for construction (its host memory is not used afterwards). Throws CudaError /
   * std::invalid_argument with the reason.
   */
  CudaLlamaModel(const LlamaModel& model, const CudaKvConfig& kv, int device = 0);
  ~CudaLlamaModel();
  CudaLlamaModel(const CudaLlamaModel&) = delete;
  CudaLlamaModel& operator=(const CudaLlamaModel&) = delete;

  /** One engine step (validated input): block copies, forward, then sampling (nullptr: argmax). */
  void step(const StepInput& in, const SamplingArrays* sampling, CudaStepResult& out);

  const LlamaConfig& config() const;
  int64_t kv_cache_bytes() const;
  int64_t kv_bytes_per_token() const;
  int64_t weight_bytes() const;
  int64_t num_blocks() const;
  int64_t block_size() const;
  std::string device_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/** Probe of the CUDA runtime and devices, for the loader and `kvserve doctor`. Never throws. */
struct CudaProbe {
  bool ok = false;            // a usable device was found
  int driver_version = 0;     // 0: no driver
  int runtime_version = 0;
  int device_count = 0;
  std::string error;          // why not ok
  std::vector<std::string> devices;  // "<name> (sm_<major><minor>, <GiB> GiB)"
};
CudaProbe probe_cuda();

}  // namespace kv::cuda
