// matmul_cuda against matmul_cpu (portable variant) for every weight type, the row kernels (m <= 8) and
// the tile kernel (m > 8, ragged edges), with and without bias. Both sides take the same converted
// activations (f16/bf16 rounding, Q8_0 / Q8_K quantization), so each output may differ only by the order
// of float additions: |got - want| <= 1e-5 sum_k |x_k w_k| (one missing term of a 512-long dot moves an
// output by ~2e-3 of that sum). Built once more with KV_EMU_WMMA, the 16-bit tile kernel runs its
// tensor-core path (emulated WMMA fragments) against the same bound.
// kv-emu-sources: native/ops/matmul/matmul_cuda.cu native/ops/matmul/matmul_float_cuda.cu native/ops/matmul/matmul_quant_cuda.cu native/ops/matmul/matmul_cpu.cc native/ops/matmul/matmul_float_cpu.cc native/ops/matmul/matmul_q8_cpu.cc native/ops/matmul/matmul_kquant_cpu.cc native/ops/matmul/matmul_packed_f_cpu.cc native/ops/matmul/matmul_packed_k_cpu.cc native/ops/matmul/matmul_packed_q_cpu.cc native/ops/add/add_cpu.cc native/ops/rms_norm/rms_norm_cpu.cc native/ops/silu_mul/silu_mul_cpu.cc native/ops/dequantize/dequantize_cpu.cc native/core/thread_pool.cc native/core/dtype.cc
#include <algorithm>

#include "core/dtype.h"
#include "core/scratch.h"
#include "core/thread_pool.h"
#include "harness.h"
#include "ops/dequantize/dequantize.h"
#include "ops/matmul/matmul.h"
#include "ops/matmul/matmul_cuda.h"
#include "random_weights.h"

namespace {

using kv::DType;

struct Shape {
  int64_t m, n, k;  // k in blocks of the weight type
};

// Row kernels with C = 1, 2, 4, 8 (and a ragged tile), the tile kernel with ragged edges on every side.
const Shape kShapes[] = {{1, 7, 1}, {2, 64, 2}, {3, 33, 3}, {5, 130, 2}, {8, 16, 1}, {9, 70, 2}, {70, 130, 3}};

void check(DType t, const Shape& s, bool with_bias, kvtest::Rng& rng) {
  const int64_t k = s.k * kv::dtype_block_elems(t) * (kv::dtype_block_elems(t) == 1 ? 40 : 1) +
                    (kv::dtype_block_elems(t) == 1 ? 3 : 0);  // float types: k = 43, 83, 123 (ragged k tiles)
  const std::vector<uint8_t> wbytes = kvtest::random_weights(rng, t, s.n, k);
  const std::vector<float> x = rng.floats(s.m * k, -2, 2);
  const std::vector<float> bias = rng.floats(s.n, -1, 1);
  kv::WeightView w;
  w.data = wbytes.data();
  w.dtype = t;
  w.rows = s.n;
  w.cols = k;
  std::vector<float> want(s.m * s.n);
  kv::ThreadPool pool(1);
  kv::Scratch scratch;
  kv::cpu_portable::matmul_cpu(want.data(), x.data(), w, with_bias ? bias.data() : nullptr, s.m, pool, scratch);

  kvtest::DeviceBuffer<uint8_t> dw(wbytes);
  kvtest::DeviceBuffer<float> dx(x), db(bias), dout(s.m * s.n);
  kvtest::DeviceBuffer<uint8_t> ws(std::max<size_t>(1, kv::cuda::matmul_cuda_workspace_bytes(t, s.m, k)));
  kv::WeightView dview = w;
  dview.data = dw.get();
  kv::cuda::matmul_cuda(dout.get(), dx.get(), dview, with_bias ? db.get() : nullptr, s.m, ws.get(), nullptr);
  const std::vector<float> got = dout.download();

  std::vector<float> wrow(k);
  double worst = 0;
  int64_t worst_at = -1;
  for (int64_t r = 0; r < s.n; ++r) {
    kv::cpu_portable::dequantize_row_cpu(wrow.data(), wbytes.data() + r * w.row_bytes(), t, k);
    for (int64_t i = 0; i < s.m; ++i) {
      double mag = 0;
      for (int64_t j = 0; j < k; ++j) mag += std::fabs(static_cast<double>(x[i * k + j]) * wrow[j]);
      const double e = std::fabs(static_cast<double>(got[i * s.n + r]) - want[i * s.n + r]) / (mag + 1e-30);
      if (!(e <= worst)) {
        worst = std::isnan(e) ? INFINITY : e;
        worst_at = i * s.n + r;
      }
    }
  }
  KV_EXPECT(worst <= 1e-5, "%s m=%lld n=%lld k=%lld bias=%d: output %lld is %.9g, the CPU kernel gives %.9g (error %g of sum |x w|)",
            kv::dtype_name(t), (long long)s.m, (long long)s.n, (long long)k, with_bias, (long long)worst_at,
            worst_at < 0 ? 0.0 : got[worst_at], worst_at < 0 ? 0.0 : want[worst_at], worst);
}

KV_TEST(matmul_matches_cpu_for_every_type) {
  kvtest::Rng rng(21);
  const DType types[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K};
  for (DType t : types) {
    bool with_bias = false;
    for (const Shape& s : kShapes) {
      check(t, s, with_bias, rng);
      with_bias = !with_bias;
    }
  }
}

KV_TEST(matmul_workspace_and_empty_calls) {
  KV_EXPECT(kv::cuda::matmul_cuda_workspace_bytes(DType::F32, 4, 64) == 0, "f32 needs no workspace");
  KV_EXPECT(kv::cuda::matmul_cuda_workspace_bytes(DType::F16, 3, 64) == 512, "f16: 384 bytes rounded to 512");
  KV_EXPECT(kv::cuda::matmul_cuda_workspace_bytes(DType::Q4_K, 1, 256) == 256 + 256 + 256, "q4_k sections");
  kv::WeightView w;
  w.data = reinterpret_cast<const void*>(16);
  w.dtype = DType::Q8_0;
  w.rows = 4;
  w.cols = 48;  // not a multiple of 32
  bool threw = false;
  try {
    kv::cuda::matmul_cuda(nullptr, nullptr, w, nullptr, 1, nullptr, nullptr);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  KV_EXPECT(threw, "a K that is not a multiple of the block size was accepted");
  w.cols = 64;
  kv::cuda::matmul_cuda(nullptr, nullptr, w, nullptr, 0, nullptr, nullptr);  // m = 0: nothing to do
  KV_EXPECT(cudaGetLastError() == cudaSuccess, "an empty call left an error");
}

}  // namespace

KV_TEST_MAIN()
