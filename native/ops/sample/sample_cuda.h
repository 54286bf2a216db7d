// CUDA launcher of sample (sample_cuda.cu); the pipeline, the tensors and the invariants: sample.h.
// Every pointer is device memory, including params (an array of SampleParams, copied as it is).
// max_saved >= num_bias + num_prompt_history + num_output_history of every row (the host knows it from
// the parameters it packed); the workspace holds, per row, those saved raw values and, when a row has
// penalties, a vocab-sized count array: sample_cuda_workspace_bytes(rows, vocab, max_saved) bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/cuda/stream.h"
#include "ops/sample/sample.h"

namespace kv::cuda {

size_t sample_cuda_workspace_bytes(int64_t rows, int64_t vocab, int64_t max_saved);

void sample_cuda(int32_t* out_token_ids, float* out_logprobs, int32_t* out_top_ids, float* out_top_logprobs,
                 int32_t max_logprobs, float* logits, int64_t rows, int64_t vocab, const SampleParams* params,
                 const int32_t* history, const int32_t* bias_token_ids, const float* bias_values, int64_t max_saved,
                 void* workspace, Stream stream);

}  // namespace kv::cuda
