// Random weight matrices of every DType for the CUDA tests: quant bytes are random, block scales are
// finite f16 values of a typical magnitude, plain types uniform in [-1, 1].
#pragma once
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "harness.h"

namespace kvtest {

inline std::vector<uint8_t> random_weights(Rng& rng, kv::DType t, int64_t n, int64_t k) {
  using kv::DType;
  std::vector<uint8_t> bytes(n * kv::dtype_row_bytes(t, k));
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.integer(0, 255));
  auto put_half = [&](size_t at, float v) {
    const uint16_t h = kv::fp32_to_fp16(v);
    std::memcpy(&bytes[at], &h, 2);
  };
  const int64_t bb = kv::dtype_block_bytes(t), nb = static_cast<int64_t>(bytes.size()) / bb;
  switch (t) {
    case DType::F32:
      for (int64_t i = 0; i < n * k; ++i) {
        const float v = rng.uniform(-1, 1);
        std::memcpy(&bytes[i * 4], &v, 4);
      }
      break;
    case DType::F16:
      for (int64_t i = 0; i < n * k; ++i) put_half(i * 2, rng.uniform(-1, 1));
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n * k; ++i) {
        const uint16_t h = kv::fp32_to_bf16(rng.uniform(-1, 1));
        std::memcpy(&bytes[i * 2], &h, 2);
      }
      break;
    case DType::Q8_0:
    case DType::Q4_0:
      for (int64_t b = 0; b < nb; ++b) put_half(b * bb, rng.uniform(-0.05f, 0.05f));
      break;
    case DType::Q4_K:
      for (int64_t b = 0; b < nb; ++b) {
        put_half(b * bb, rng.uniform(0.0f, 0.01f));
        put_half(b * bb + 2, rng.uniform(0.0f, 0.01f));
      }
      break;
    case DType::Q6_K:
      for (int64_t b = 0; b < nb; ++b) put_half(b * bb + 208, rng.uniform(-0.005f, 0.005f));
      break;
  }
  return bytes;
}

}  // namespace kvtest
