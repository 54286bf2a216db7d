// rope_cuda against rope_cpu (portable variant) for both layouts, partial rotary, large positions and
// linear position scaling: bit for bit in the emulator (same cosf/sinf), within CUDA's on a GPU.
// kv-emu-sources: native/ops/rope/rope_cuda.cu native/ops/rope/rope_cpu.cc native/core/rope_freqs.cc
#include "core/rope_freqs.h"
#include "harness.h"
#include "ops/rope/rope.h"
#include "ops/rope/rope_cuda.h"

namespace {

struct Shape {
  int64_t tokens, heads, head_dim, rope_dim;
};

// One pair; a block of pairs exactly; partial rotary; a half that is not a multiple of the block; two
// blocks of pairs; many tokens and heads.
const Shape kShapes[] = {{1, 1, 2, 2}, {3, 4, 128, 128}, {5, 2, 128, 64}, {7, 3, 96, 96}, {2, 2, 256, 256}, {33, 8, 64, 32}};

KV_TEST(rope_matches_cpu) {
  kvtest::Rng rng(4);
  for (const Shape& s : kShapes) {
    for (int32_t layout : {kv::kRopeNorm, kv::kRopeNeox}) {
      for (float scale : {1.0f, 0.25f}) {
        const std::vector<float> x = rng.floats(s.tokens * s.heads * s.head_dim, -2, 2);
        std::vector<int32_t> pos(s.tokens);
        for (int32_t& p : pos) p = static_cast<int32_t>(rng.integer(0, 100000));
        const std::vector<float> inv_freq = kv::rope_inv_freq(s.rope_dim, 10000.0, nullptr, nullptr);
        std::vector<float> want = x;
        kv::cpu_portable::rope_cpu(want.data(), s.tokens, s.heads, s.head_dim, s.rope_dim, pos.data(), inv_freq.data(),
                                   scale, layout);
        kvtest::DeviceBuffer<float> dx(x), df(inv_freq);
        kvtest::DeviceBuffer<int32_t> dp(pos);
        kv::cuda::rope_cuda(dx.get(), s.tokens, s.heads, s.head_dim, s.rope_dim, dp.get(), df.get(), scale, layout, nullptr);
        const std::vector<float> got = dx.download();
        if (kvtest::kEmulated) {
          const int64_t at = kvtest::first_bit_difference(got, want);
          KV_EXPECT(at < 0, "shape %lldx%lldx%lld rope %lld layout %d scale %g: element %lld differs",
                    (long long)s.tokens, (long long)s.heads, (long long)s.head_dim, (long long)s.rope_dim, layout, scale,
                    (long long)at);
        } else {
          const double err = kvtest::max_rel_error(got, want, 1e-3);
          KV_EXPECT(err < 1e-5, "layout %d: max rel error %g", layout, err);
        }
      }
    }
  }
}

}  // namespace

KV_TEST_MAIN()
