// kv_cache_write_cuda against kv_cache_write_cpu (portable): the caches must hold the same bits, for
// F32/F16/BF16, skipped (-1) and duplicate slots (the later token wins), and values that round to
// infinity, subnormals and NaNs.
// kv-emu-sources: native/ops/kv_cache_write/kv_cache_write_cuda.cu native/ops/kv_cache_write/kv_cache_write_cpu.cc native/core/dtype.cc
#include <cmath>

#include "core/dtype.h"
#include "harness.h"
#include "ops/kv_cache_write/kv_cache_write.h"
#include "ops/kv_cache_write/kv_cache_write_cuda.h"

namespace {

using kv::DType;

struct Shape {
  int64_t tokens, kv_heads, head_dim, block_size, num_blocks;
};

const Shape kShapes[] = {{1, 1, 1, 1, 1}, {5, 2, 64, 16, 4}, {37, 4, 128, 16, 8}, {300, 1, 80, 32, 16}, {9, 8, 256, 8, 3}};

KV_TEST(kv_cache_write_matches_cpu) {
  kvtest::Rng rng(6);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    for (const Shape& s : kShapes) {
      const int64_t slots = s.num_blocks * s.block_size, elem = kv::dtype_block_bytes(t);
      const int64_t cache_bytes = slots * s.kv_heads * s.head_dim * elem;
      std::vector<uint8_t> cache(cache_bytes);
      for (uint8_t& b : cache) b = static_cast<uint8_t>(rng.integer(0, 255));
      std::vector<float> k = rng.floats(s.tokens * s.kv_heads * s.head_dim, -4, 4);
      std::vector<float> v = rng.floats(k.size(), -4, 4);
      if (k.size() >= 6) {
        k[0] = NAN;
        k[1] = -INFINITY;
        k[2] = 70000.0f;   // f16 overflow
        k[3] = 1e-7f;      // f16 subnormal
        k[4] = -3e-39f;    // f32 subnormal
        v[5] = -NAN;
      }
      std::vector<int32_t> slot(s.tokens);
      for (int32_t& x : slot) x = static_cast<int32_t>(rng.integer(-1, slots - 1));
      if (s.tokens >= 3) slot[s.tokens - 1] = slot[0] >= 0 ? slot[0] : 0;  // a duplicate: the later token wins
      std::vector<uint8_t> want_k = cache, want_v = cache;
      kv::cpu_portable::kv_cache_write_cpu(want_k.data(), want_v.data(), t, k.data(), v.data(), slot.data(), s.tokens,
                                           s.kv_heads, s.head_dim, s.block_size);
      kvtest::DeviceBuffer<uint8_t> dk(cache), dv(cache);
      kvtest::DeviceBuffer<float> kk(k), vv(v);
      kvtest::DeviceBuffer<int32_t> ds(slot);
      kv::cuda::kv_cache_write_cuda(dk.get(), dv.get(), t, kk.get(), vv.get(), ds.get(), s.tokens, s.kv_heads, s.head_dim,
                                    s.block_size, nullptr);
      const int64_t ak = kvtest::first_bit_difference(dk.download(), want_k);
      const int64_t av = kvtest::first_bit_difference(dv.download(), want_v);
      KV_EXPECT(ak < 0 && av < 0, "%s tokens=%lld heads=%lld dim=%lld: first K byte difference %lld, V %lld",
                kv::dtype_name(t), (long long)s.tokens, (long long)s.kv_heads, (long long)s.head_dim, (long long)ak,
                (long long)av);
    }
  }
}

}  // namespace

KV_TEST_MAIN()
