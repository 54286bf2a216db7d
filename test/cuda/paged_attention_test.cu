// paged_attention_cuda (one pass and split context) against paged_attention_cpu (portable variant) on
// mixed batches: decode rows over long and short contexts, a prefill chunk on a cached context, a fresh
// prefill and an idle sequence, with shuffled block tables, for f32/f16/bf16 caches, MHA and GQA
// (including groups wider than one block's heads), odd head sizes and head_dim 256 (over 48 KB of
// shared memory). The one-pass variant follows the CPU kernel's operation order: in the emulator (same
// expf) it must match bit for bit; on a GPU and for the split variant, within 2e-6.
// kv-emu-sources: native/ops/paged_attention/paged_attention_cuda.cu native/ops/paged_attention/paged_attention_cpu.cc native/core/thread_pool.cc native/core/dtype.cc
#include <algorithm>
#include <numeric>

#include "core/dtype.h"
#include "core/scratch.h"
#include "core/thread_pool.h"
#include "harness.h"
#include "ops/paged_attention/paged_attention.h"
#include "ops/paged_attention/paged_attention_cuda.h"

namespace {

using kv::DType;

struct Seq {
  int32_t query_len, context_len;
};

struct Case {
  DType dtype;
  int64_t n_kv_heads, group, head_dim, block_size;
  std::vector<Seq> seqs;
};

struct Inputs {
  std::vector<float> q;
  std::vector<uint8_t> k_cache, v_cache;
  std::vector<int32_t> query_start_loc, seq_lens, block_tables;
  int64_t max_blocks_per_seq, n_heads, num_tokens, max_query_len, max_seq_len;
};

// Cache values of magnitude < 1; f16 / bf16 built from random bits (so every value is exact).
std::vector<uint8_t> random_cache(kvtest::Rng& rng, DType t, int64_t elems) {
  std::vector<uint8_t> bytes(elems * kv::dtype_block_bytes(t));
  for (int64_t i = 0; i < elems; ++i) {
    if (t == DType::F32) {
      const float v = rng.uniform(-1, 1);
      std::memcpy(&bytes[i * 4], &v, 4);
      continue;
    }
    const uint16_t sign = rng.integer(0, 1) ? 0x8000 : 0;
    const uint16_t h = t == DType::F16
                           ? static_cast<uint16_t>(sign | (rng.integer(8, 14) << 10) | rng.integer(0, 1023))
                           : static_cast<uint16_t>(sign | (rng.integer(120, 126) << 7) | rng.integer(0, 127));
    std::memcpy(&bytes[i * 2], &h, 2);
  }
  return bytes;
}

Inputs build(const Case& c, kvtest::Rng& rng) {
  Inputs in;
  in.n_heads = c.n_kv_heads * c.group;
  std::vector<int64_t> needed;
  int64_t total_blocks = 3;  // spare blocks hold garbage that is never read
  for (const Seq& s : c.seqs) {
    needed.push_back((s.context_len + c.block_size - 1) / c.block_size);
    total_blocks += needed.back();
  }
  std::vector<int32_t> ids(total_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng.engine());
  in.max_blocks_per_seq = *std::max_element(needed.begin(), needed.end()) + 1;
  in.block_tables.assign(c.seqs.size() * in.max_blocks_per_seq, -1);  // unused entries are invalid on purpose
  size_t next = 0;
  for (size_t s = 0; s < c.seqs.size(); ++s)
    for (int64_t b = 0; b < needed[s]; ++b) in.block_tables[s * in.max_blocks_per_seq + b] = ids[next++];
  in.query_start_loc.assign(1, 0);
  in.max_query_len = in.max_seq_len = 0;
  for (const Seq& s : c.seqs) {
    in.query_start_loc.push_back(in.query_start_loc.back() + s.query_len);
    in.seq_lens.push_back(s.context_len);
    in.max_query_len = std::max<int64_t>(in.max_query_len, s.query_len);
    in.max_seq_len = std::max<int64_t>(in.max_seq_len, s.context_len);
  }
  in.num_tokens = in.query_start_loc.back();
  in.q = rng.floats(in.num_tokens * in.n_heads * c.head_dim, -1, 1);
  const int64_t elems = total_blocks * c.n_kv_heads * c.block_size * c.head_dim;
  in.k_cache = random_cache(rng, c.dtype, elems);
  in.v_cache = random_cache(rng, c.dtype, elems);
  return in;
}

std::vector<float> run_cpu(const Case& c, const Inputs& in) {
  std::vector<float> out(in.q.size());
  kv::ThreadPool pool(1);
  kv::Scratch scratch;
  kv::cpu_portable::paged_attention_cpu(out.data(), in.q.data(), in.k_cache.data(), in.v_cache.data(), c.dtype,
                                        in.query_start_loc.data(), in.seq_lens.data(), in.block_tables.data(),
                                        in.max_blocks_per_seq, static_cast<int64_t>(c.seqs.size()), in.n_heads,
                                        c.n_kv_heads, c.head_dim, c.block_size, 1.0f / std::sqrt(float(c.head_dim)),
                                        pool, scratch);
  return out;
}

// partition 0: one pass. in_place: out is q's buffer.
std::vector<float> run_cuda(const Case& c, const Inputs& in, int64_t partition, bool in_place) {
  kvtest::DeviceBuffer<float> dq(in.q), dout(in.q.size());
  kvtest::DeviceBuffer<uint8_t> dk(in.k_cache), dv(in.v_cache);
  kvtest::DeviceBuffer<int32_t> dqsl(in.query_start_loc), dlens(in.seq_lens), dtables(in.block_tables);
  kv::cuda::PagedAttentionPlan plan;
  plan.num_tokens = in.num_tokens;
  plan.max_query_len = in.max_query_len;
  plan.max_seq_len = in.max_seq_len;
  plan.partition_size = partition;
  const size_t ws = kv::cuda::paged_attention_workspace_floats(in.num_tokens, in.n_heads, c.head_dim, in.max_seq_len, partition);
  kvtest::DeviceBuffer<float> workspace(std::max<size_t>(ws, 1));
  plan.workspace = partition ? workspace.get() : nullptr;
  float* out = in_place ? dq.get() : dout.get();
  kv::cuda::paged_attention_cuda(out, dq.get(), dk.get(), dv.get(), c.dtype, dqsl.get(), dlens.get(), dtables.get(),
                                 in.max_blocks_per_seq, static_cast<int64_t>(c.seqs.size()), in.n_heads, c.n_kv_heads,
                                 c.head_dim, c.block_size, 1.0f / std::sqrt(float(c.head_dim)), plan, nullptr);
  return in_place ? dq.download() : dout.download();
}

std::string describe(const Case& c) {
  std::string s = std::string(kv::dtype_name(c.dtype)) + " G=" + std::to_string(c.group) + " kv=" +
                  std::to_string(c.n_kv_heads) + " D=" + std::to_string(c.head_dim) + " B=" + std::to_string(c.block_size) + " L/C=";
  for (const Seq& q : c.seqs) s += std::to_string(q.query_len) + "/" + std::to_string(q.context_len) + ",";
  return s;
}

// Decode over a long and a short context, a chunk on a cached context, a fresh prefill, an idle sequence.
std::vector<Seq> mixed_batch(kvtest::Rng& rng, int64_t scale) {
  const int32_t cached = static_cast<int32_t>(rng.integer(1, 700 / scale));
  const int32_t chunk = static_cast<int32_t>(rng.integer(2, 40 / scale + 2));
  const int32_t fresh = static_cast<int32_t>(rng.integer(1, 60 / scale + 1));
  return {{1, static_cast<int32_t>(rng.integer(1, 1500 / scale))}, {1, static_cast<int32_t>(rng.integer(1, 20))},
          {chunk, cached + chunk}, {fresh, fresh}, {0, static_cast<int32_t>(rng.integer(0, 40))}};
}

std::vector<Case> cases(kvtest::Rng& rng) {
  std::vector<Case> v;
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    v.push_back({t, 2, 1, 64, 16, mixed_batch(rng, 1)});   // MHA
    v.push_back({t, 2, 4, 128, 16, mixed_batch(rng, 2)});  // GQA 4: 4 rows x 4 heads per block
  }
  v.push_back({DType::F16, 1, 8, 80, 8, mixed_batch(rng, 2)});    // odd head size, 2 rows x 8 heads
  v.push_back({DType::F32, 1, 32, 32, 16, mixed_batch(rng, 4)});  // group wider than a block: 2 head chunks
  v.push_back({DType::BF16, 2, 2, 256, 32, mixed_batch(rng, 4)}); // head_dim 256: 8 vectors, > 48 KB shared
  v.push_back({DType::F32, 3, 1, 3, 4, mixed_batch(rng, 2)});     // tiny head, odd kv heads
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, bool exact, const std::string& what) {
  if (exact) {
    const int64_t at = kvtest::first_bit_difference(got, want);
    KV_EXPECT(at < 0, "%s: element %lld is %.9g, the CPU kernel gives %.9g", what.c_str(), (long long)at,
              at < 0 ? 0.0 : got[at], at < 0 ? 0.0 : want[at]);
  } else {
    const double err = kvtest::max_rel_error(got, want, 1.0);
    KV_EXPECT(err < 2e-6, "%s: max error %g", what.c_str(), err);
  }
}

KV_TEST(paged_attention_one_pass_matches_cpu) {
  kvtest::Rng rng(11);
  for (const Case& c : cases(rng)) {
    const Inputs in = build(c, rng);
    expect_close(run_cuda(c, in, 0, false), run_cpu(c, in), kvtest::kEmulated, "one pass " + describe(c));
  }
}

KV_TEST(paged_attention_split_context_matches_cpu) {
  kvtest::Rng rng(12);
  int64_t partition = 32;
  for (const Case& c : cases(rng)) {
    const Inputs in = build(c, rng);
    expect_close(run_cuda(c, in, partition, false), run_cpu(c, in), false,
                 "split " + std::to_string(partition) + " " + describe(c));
    partition = partition == 32 ? 48 : 32;
  }
}

KV_TEST(paged_attention_in_place) {
  kvtest::Rng rng(13);
  const Case c{DType::F16, 2, 2, 64, 16, {{5, 40}, {1, 300}, {17, 17}}};
  const Inputs in = build(c, rng);
  const std::vector<float> want = run_cpu(c, in);
  expect_close(run_cuda(c, in, 0, true), want, kvtest::kEmulated, "one pass in place");
  expect_close(run_cuda(c, in, 64, true), want, false, "split in place");
}

KV_TEST(paged_attention_plan_and_limits) {
  KV_EXPECT(kv::cuda::paged_attention_partition_size(1, 4096) == kv::cuda::kPagedAttentionPartition, "long decode splits");
  KV_EXPECT(kv::cuda::paged_attention_partition_size(1, 100) == 0, "short decode does not split");
  KV_EXPECT(kv::cuda::paged_attention_partition_size(512, 4096) == 0, "prefill does not split");
  KV_EXPECT(kv::cuda::paged_attention_workspace_floats(3, 4, 64, 1000, 512) == size_t{3 * 4 * 2 * 66}, "workspace size");
  bool threw = false;
  try {
    kv::cuda::PagedAttentionPlan plan;
    plan.num_tokens = plan.max_query_len = plan.max_seq_len = 1;
    kv::cuda::paged_attention_cuda(nullptr, nullptr, nullptr, nullptr, DType::F32, nullptr, nullptr, nullptr, 1, 1, 1, 1,
                                   1024, 16, 1.0f, plan, nullptr);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("head_dim 1024") != std::string::npos;
  }
  KV_EXPECT(threw, "head_dim 1024 was not rejected with a clear error");
}

}  // namespace

KV_TEST_MAIN()
