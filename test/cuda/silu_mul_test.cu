// silu_mul_cuda against silu_mul_cpu (portable variant): bit for bit in the emulator (same expf), within
// CUDA's expf error on a GPU.
// kv-emu-sources: native/ops/silu_mul/silu_mul_cuda.cu native/ops/silu_mul/silu_mul_cpu.cc
#include "harness.h"
#include "ops/silu_mul/silu_mul.h"
#include "ops/silu_mul/silu_mul_cuda.h"

namespace {

void check(const std::vector<float>& got, const std::vector<float>& want, const char* what, int64_t n) {
  if (kvtest::kEmulated) {
    const int64_t at = kvtest::first_bit_difference(got, want);
    KV_EXPECT(at < 0, "%s n=%lld: element %lld is %.9g, the CPU kernel gives %.9g", what, (long long)n, (long long)at,
              at < 0 ? 0.0 : got[at], at < 0 ? 0.0 : want[at]);
  } else {
    const double err = kvtest::max_rel_error(got, want, 1e-30);
    KV_EXPECT(err < 1e-6, "%s n=%lld: max rel error %g", what, (long long)n, err);
  }
}

KV_TEST(silu_mul_matches_cpu) {
  kvtest::Rng rng(3);
  for (int64_t n : {1, 7, 256, 1000, 100003}) {
    std::vector<float> gate = rng.floats(n, -20, 20), up = rng.floats(n, -4, 4);
    if (n >= 7) {  // saturating gates: exp overflows to inf (silu -> -0) or underflows (silu -> gate)
      gate[0] = -100.0f;
      gate[1] = 100.0f;
      gate[2] = -1e30f;
      gate[3] = 1e30f;
      gate[4] = 0.0f;
      gate[5] = -0.0f;
    }
    std::vector<float> want(n);
    kv::cpu_portable::silu_mul_cpu(want.data(), gate.data(), up.data(), n);
    kvtest::DeviceBuffer<float> dg(gate), du(up), dout(n);
    kv::cuda::silu_mul_cuda(dout.get(), dg.get(), du.get(), n, nullptr);
    check(dout.download(), want, "out", n);
    kv::cuda::silu_mul_cuda(dg.get(), dg.get(), du.get(), n, nullptr);  // in place over gate
    check(dg.download(), want, "in place", n);
  }
}

}  // namespace

KV_TEST_MAIN()
