// embedding_cuda against embedding_cpu (portable) for every weight type: bit for bit (dequantization is
// exact arithmetic on both sides).
// kv-emu-sources: native/ops/embedding/embedding_cuda.cu native/ops/embedding/embedding_cpu.cc native/ops/dequantize/dequantize_cpu.cc native/core/dtype.cc
#include "core/dtype.h"
#include "harness.h"
#include "ops/embedding/embedding.h"
#include "ops/embedding/embedding_cuda.h"

namespace {

using kv::DType;

// A random table whose block scales are finite fp16 values (other bytes are random quants).
std::vector<uint8_t> random_table(kvtest::Rng& rng, DType t, int64_t vocab, int64_t dim) {
  const int64_t row_bytes = kv::dtype_row_bytes(t, dim);
  std::vector<uint8_t> bytes(vocab * row_bytes);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.integer(0, 255));
  auto put_half = [&](size_t at, float v) {
    const uint16_t h = kv::fp32_to_fp16(v);
    std::memcpy(&bytes[at], &h, 2);
  };
  const int64_t nb = static_cast<int64_t>(bytes.size()) / kv::dtype_block_bytes(t);
  switch (t) {
    case DType::F32:
      for (int64_t i = 0; i < vocab * dim; ++i) {
        const float v = rng.uniform(-3, 3);
        std::memcpy(&bytes[i * 4], &v, 4);
      }
      break;
    case DType::F16:
      for (int64_t i = 0; i < vocab * dim; ++i) put_half(i * 2, rng.uniform(-3, 3));
      break;
    case DType::BF16:
      for (int64_t i = 0; i < vocab * dim; ++i) {
        const uint16_t h = kv::fp32_to_bf16(rng.uniform(-3, 3));
        std::memcpy(&bytes[i * 2], &h, 2);
      }
      break;
    case DType::Q8_0:
    case DType::Q4_0:
      for (int64_t b = 0; b < nb; ++b) put_half(b * kv::dtype_block_bytes(t), rng.uniform(-0.1f, 0.1f));
      break;
    case DType::Q4_K:
      for (int64_t b = 0; b < nb; ++b) {
        put_half(b * 144, rng.uniform(0.0f, 0.05f));
        put_half(b * 144 + 2, rng.uniform(0.0f, 0.05f));
      }
      break;
    case DType::Q6_K:
      for (int64_t b = 0; b < nb; ++b) put_half(b * 210 + 208, rng.uniform(-0.01f, 0.01f));
      break;
  }
  return bytes;
}

KV_TEST(embedding_matches_cpu_for_every_type) {
  kvtest::Rng rng(5);
  const DType types[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K};
  for (DType t : types) {
    const int64_t block = kv::dtype_block_elems(t);
    for (int64_t dim : {block, 2 * block, 1024 + block, block == 1 ? int64_t{7} : 3 * block}) {
      const int64_t vocab = 50, n = 9;
      const std::vector<uint8_t> table = random_table(rng, t, vocab, dim);
      std::vector<int32_t> ids(n);
      for (int32_t& id : ids) id = static_cast<int32_t>(rng.integer(0, vocab - 1));
      ids[0] = 0;
      ids[n - 1] = vocab - 1;
      std::vector<float> want(n * dim);
      kv::cpu_portable::embedding_cpu(want.data(), table.data(), t, dim, ids.data(), n);
      kvtest::DeviceBuffer<uint8_t> dt(table);
      kvtest::DeviceBuffer<int32_t> di(ids);
      kvtest::DeviceBuffer<float> dout(n * dim);
      kv::cuda::embedding_cuda(dout.get(), dt.get(), t, dim, di.get(), n, nullptr);
      const std::vector<float> got = dout.download();
      const int64_t at = kvtest::first_bit_difference(got, want);
      KV_EXPECT(at < 0, "%s dim=%lld: element %lld is %.9g, the CPU kernel gives %.9g", kv::dtype_name(t),
                (long long)dim, (long long)at, at < 0 ? 0.0 : got[at], at < 0 ? 0.0 : want[at]);
    }
  }
}

}  // namespace

KV_TEST_MAIN()
