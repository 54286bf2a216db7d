// libFuzzer target: the step-input validation (core/step_validation.cc) that guards every native
// step. Property: validate_step_input either throws kv::InputError or accepts a step that the kernels
// then run on without any out-of-bounds access: the step's block copies, the embedding gather
// (tokenIds), kv_cache_write (slotMapping), paged_attention (queryStartLoc, seqLens, blockTables,
// positions) and the logits-row gather (logitsIndices) run for real, in every kernel variant this CPU
// runs, on a small fuzzed model shape and KV dtype, with heap buffers sized exactly as the model sizes
// them, under ASan + UBSan.
//
// Input layout (fuzz_input.h): u8 vocab, u8 num_blocks, u8 block_size, u8 head_dim, u8 kv_heads,
// u8 group, u8 kv_dtype (each taken mod a small range), f64 maxBlocksPerSeq (a JS number),
// u8 return_logits, then nine arrays, each a u16 length followed by i32 values: tokenIds, positions,
// slotMapping, queryStartLoc, seqLens, blockTables, logitsIndices, copySrc, copyDst.
#include <vector>

#include "core/isa.h"
#include "core/kv_cache.h"
#include "core/scratch.h"
#include "core/step_validation.h"
#include "core/thread_pool.h"
#include "fuzz/fuzz_input.h"
#include "ops/embedding/embedding.h"
#include "ops/kv_cache_write/kv_cache_write.h"
#include "ops/paged_attention/paged_attention.h"

namespace {

std::vector<int32_t> read_array(kv::fuzz::Input& in) {
  const uint16_t n = in.read<uint16_t>() % 1025;
  return in.array<int32_t>(n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kv::fuzz::Input in(data, size);
  const kv::StepLimits limits{1 + in.read<uint8_t>() % 64, 1 + in.read<uint8_t>() % 32, 1 + in.read<uint8_t>() % 16};
  const int64_t head_dim = 1 + in.read<uint8_t>() % 64, kv_heads = 1 + in.read<uint8_t>() % 2;
  const int64_t heads = kv_heads * (1 + in.read<uint8_t>() % 2), hidden = heads * head_dim;
  const kv::DType kv_dtype = static_cast<kv::DType>(in.read<uint8_t>() % 3);  // F32, F16, BF16
  const double max_blocks_number = in.read<double>();
  kv::StepInput step;
  step.return_logits = in.read<uint8_t>() & 1;
  step.token_ids = read_array(in);
  step.positions = read_array(in);
  step.slot_mapping = read_array(in);
  step.query_start_loc = read_array(in);
  step.seq_lens = read_array(in);
  step.block_tables = read_array(in);
  step.logits_indices = read_array(in);
  step.copy_src = read_array(in);
  step.copy_dst = read_array(in);
  try {
    step.max_blocks_per_seq = kv::step_max_blocks_per_seq(max_blocks_number);
    kv::validate_step_input(step, limits);
  } catch (const kv::InputError&) {
    return 0;
  }

  // Accepted: run what the forward pass runs with these arrays, in every variant this CPU runs.
  const int64_t t = step.num_tokens();
  static kv::ThreadPool pool(1);
  static kv::Scratch scratch;
  for (kv::Isa isa : {kv::Isa::Portable, kv::Isa::Avx2, kv::Isa::Avx512}) {
    if (!kv::isa_supported(isa)) continue;
    kv::KvCache cache(1, limits.num_blocks, limits.block_size, kv_heads, head_dim, kv_dtype);
    for (size_t i = 0; i < step.copy_src.size(); ++i) cache.copy_block(step.copy_src[i], step.copy_dst[i]);
    std::vector<float> table(static_cast<size_t>(limits.vocab_size * hidden), 0.5f);
    std::vector<float> x(static_cast<size_t>(t * hidden));
    KV_CPU_DISPATCH(isa, embedding_cpu, x.data(), table.data(), kv::DType::F32, hidden, step.token_ids.data(), t);
    std::vector<float> k(static_cast<size_t>(t * kv_heads * head_dim), 0.25f), v(k.size(), 0.75f);
    KV_CPU_DISPATCH(isa, kv_cache_write_cpu, cache.k(0), cache.v(0), kv_dtype, k.data(), v.data(), step.slot_mapping.data(), t,
                    kv_heads, head_dim, limits.block_size);
    std::vector<float> q(static_cast<size_t>(t * hidden), 0.1f), out(q.size());
    KV_CPU_DISPATCH(isa, paged_attention_cpu, out.data(), q.data(), cache.k(0), cache.v(0), kv_dtype,
                    step.query_start_loc.data(), step.seq_lens.data(), step.block_tables.data(), step.max_blocks_per_seq,
                    step.num_seqs(), heads, kv_heads, head_dim, limits.block_size, 0.5f, pool, scratch);
    float sum = 0;
    for (int32_t row : step.logits_indices) sum += x[static_cast<size_t>(row) * hidden];
    if (sum != sum && t < 0) kv::fuzz::oracle_failure("unreachable");
  }
  return 0;
}
