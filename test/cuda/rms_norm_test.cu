// rms_norm_cuda against rms_norm_cpu (portable variant) on the same inputs.
// kv-emu-sources: native/ops/rms_norm/rms_norm_cuda.cu native/ops/rms_norm/rms_norm_cpu.cc
#include "harness.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rms_norm/rms_norm_cuda.h"

namespace {

struct Shape {
  int64_t rows, dim;
};

// Short rows (one partial warp), one warp, several warps, rows longer than the block, odd sizes.
const Shape kShapes[] = {{1, 1}, {1, 7}, {3, 16}, {2, 64}, {5, 172}, {4, 768}, {1, 4099}, {64, 16}, {3, 5000}};

KV_TEST(rms_norm_matches_cpu) {
  kvtest::Rng rng(1);
  for (const Shape& s : kShapes) {
    const std::vector<float> x = rng.floats(s.rows * s.dim, -3, 3), w = rng.floats(s.dim, -1, 1);
    std::vector<float> want(x.size());
    kv::cpu_portable::rms_norm_cpu(want.data(), x.data(), w.data(), s.rows, s.dim, 1e-5f);
    kvtest::DeviceBuffer<float> dx(x), dw(w), dout(x.size());
    kv::cuda::rms_norm_cuda(dout.get(), dx.get(), dw.get(), s.rows, s.dim, 1e-5f, nullptr);
    const double err = kvtest::max_rel_error(dout.download(), want, 1e-3);
    KV_EXPECT(err < 1e-6, "rows=%lld dim=%lld: max rel error %g", (long long)s.rows, (long long)s.dim, err);
  }
}

KV_TEST(rms_norm_in_place) {
  kvtest::Rng rng(2);
  const int64_t rows = 3, dim = 1000;
  const std::vector<float> x = rng.floats(rows * dim, -2, 2), w = rng.floats(dim, -1, 1);
  std::vector<float> want(x.size());
  kv::cpu_portable::rms_norm_cpu(want.data(), x.data(), w.data(), rows, dim, 1e-6f);
  kvtest::DeviceBuffer<float> dx(x), dw(w);
  kv::cuda::rms_norm_cuda(dx.get(), dx.get(), dw.get(), rows, dim, 1e-6f, nullptr);
  const double err = kvtest::max_rel_error(dx.download(), want, 1e-3);
  KV_EXPECT(err < 1e-6, "max rel error %g", err);
}

KV_TEST(rms_norm_zero_rows_launches_nothing) {
  kv::cuda::rms_norm_cuda(nullptr, nullptr, nullptr, 0, 16, 1e-5f, nullptr);
  KV_EXPECT(cudaGetLastError() == cudaSuccess, "an empty call left an error");
}

}  // namespace

KV_TEST_MAIN()
