// One engine step, as flat arrays (DESIGN.md "One request, end to end", step 4). Built by
// lib/runner from a SchedulerOutput; validated by the addon before the forward pass runs.
#pragma once
#include <cstdint>
#include <vector>

namespace kv {

struct StepInput {
  // Per token (num_tokens): the tokens computed this step, their positions and KV cache slots. A token
  // id -(r + 1) (a step that continues the one before it) is replaced by that step's sample at row r
  // before the forward runs (native/addon/step_worker.cc), so kernels only ever see ids in [0, vocab).
  std::vector<int32_t> token_ids;
  std::vector<int32_t> positions;
  std::vector<int32_t> slot_mapping;  // block_id * block_size + offset; -1 = do not write
  // Per sequence (num_seqs): token range [query_start_loc[s], query_start_loc[s+1]) and context length
  // (cached tokens + this step's tokens).
  std::vector<int32_t> query_start_loc;  // num_seqs + 1
  std::vector<int32_t> seq_lens;
  std::vector<int32_t> block_tables;  // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  // Rows of the step's tokens whose logits are computed and sampled (num_logits).
  std::vector<int32_t> logits_indices;
  // KV block copies to run before the forward (copy-on-write of shared blocks): src[i] -> dst[i].
  std::vector<int32_t> copy_src;
  std::vector<int32_t> copy_dst;
  bool return_logits = false;
  bool profile = false;  // time every op (StepProfile) and return the figures

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t num_seqs() const { return static_cast<int64_t>(seq_lens.size()); }
  int64_t num_logits() const { return static_cast<int64_t>(logits_indices.size()); }
};

}  // namespace kv
