// add_cuda and argmax_rows_cuda against add_cpu and argmax_rows_cpu (portable): bit for bit, with the
// argmax edge cases of argmax.h (ties, NaNs, -0 vs +0, all -inf, a NaN first element).
// kv-emu-sources: native/ops/add/add_cuda.cu native/ops/add/add_cpu.cc native/ops/argmax/argmax_cuda.cu native/ops/argmax/argmax_cpu.cc
#include "harness.h"
#include "ops/add/add.h"
#include "ops/add/add_cuda.h"
#include "ops/argmax/argmax.h"
#include "ops/argmax/argmax_cuda.h"

namespace {

KV_TEST(add_matches_cpu) {
  kvtest::Rng rng(40);
  for (int64_t n : {1, 255, 100003}) {
    const std::vector<float> a = rng.floats(n, -5, 5), b = rng.floats(n, -5, 5);
    std::vector<float> want(n);
    kv::cpu_portable::add_cpu(want.data(), a.data(), b.data(), n);
    kvtest::DeviceBuffer<float> da(a), db(b);
    kv::cuda::add_cuda(da.get(), da.get(), db.get(), n, nullptr);  // in place, as the residual add
    KV_EXPECT(kvtest::first_bit_difference(da.download(), want) < 0, "n=%lld differs", (long long)n);
  }
}

KV_TEST(argmax_matches_cpu_on_edge_cases) {
  kvtest::Rng rng(41);
  for (int64_t cols : {1, 5, 300, 5000}) {
    const int64_t rows = 8;
    std::vector<float> x = rng.floats(rows * cols, -3, 3);
    auto row = [&](int64_t r) { return x.data() + r * cols; };
    if (cols >= 5) {
      row(1)[cols - 1] = row(1)[2] = 9.0f;                // tie: the first wins
      row(2)[0] = NAN;                                      // NaN first: 0
      row(3)[1] = NAN;                                      // NaN elsewhere: never chosen
      row(3)[4] = 7.0f;
      for (int64_t i = 0; i < cols; ++i) row(4)[i] = -INFINITY;  // all -inf: 0
      for (int64_t i = 0; i < cols; ++i) row(5)[i] = i % 2 ? 0.0f : -0.0f;  // -0 ties +0: 0
      row(6)[cols - 1] = INFINITY;
    }
    std::vector<int32_t> want(rows);
    kv::cpu_portable::argmax_rows_cpu(want.data(), x.data(), rows, cols);
    kvtest::DeviceBuffer<float> dx(x);
    kvtest::DeviceBuffer<int32_t> out(rows);
    kv::cuda::argmax_rows_cuda(out.get(), dx.get(), rows, cols, nullptr);
    const std::vector<int32_t> got = out.download();
    for (int64_t r = 0; r < rows; ++r)
      KV_EXPECT(got[r] == want[r], "cols=%lld row %lld: %d, the CPU kernel gives %d", (long long)cols, (long long)r, got[r],
                want[r]);
  }
}

}  // namespace

KV_TEST_MAIN()
