// libFuzzer target: the row dequantizers (ops/dequantize) on arbitrary bytes, the code that reads
// weight blocks straight from a model file. Properties: no out-of-bounds read of the row (the buffer
// is exactly dtype_row_bytes long, at any byte alignment) and no undefined behaviour, for every dtype
// and every kernel variant this CPU runs; the variants agree bit for bit (NaNs compared as NaN); and
// F32/F16/BF16/Q8_0/Q4_0 match the scalar formulas of dequantize.h.
//
// Input layout (fuzz_input.h): u8 dtype (mod 7), u16 num_blocks (mod 65), u8 misalignment (mod 64),
// then the row's bytes (zero-padded to the row size).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/isa.h"
#include "fuzz/fuzz_input.h"
#include "ops/dequantize/dequantize.h"

namespace {

bool same(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// The scalar formulas of dequantize.h for the simple types; NaN when there is no simple formula.
float scalar_reference(kv::DType dtype, const uint8_t* row, int64_t i) {
  uint16_t h;
  switch (dtype) {
    case kv::DType::F32: {
      float f;
      std::memcpy(&f, row + 4 * i, 4);
      return f;
    }
    case kv::DType::F16:
      std::memcpy(&h, row + 2 * i, 2);
      return kv::fp16_to_fp32(h);
    case kv::DType::BF16:
      std::memcpy(&h, row + 2 * i, 2);
      return kv::bf16_to_fp32(h);
    case kv::DType::Q8_0: {
      const uint8_t* block = row + (i / 32) * sizeof(kv::BlockQ8_0);
      std::memcpy(&h, block, 2);
      return kv::fp16_to_fp32(h) * static_cast<float>(static_cast<int8_t>(block[2 + i % 32]));
    }
    case kv::DType::Q4_0: {
      const uint8_t* block = row + (i / 32) * sizeof(kv::BlockQ4_0);
      std::memcpy(&h, block, 2);
      const int j = static_cast<int>(i % 32);
      const int nibble = j < 16 ? (block[2 + j] & 0xF) : (block[2 + j - 16] >> 4);
      return kv::fp16_to_fp32(h) * static_cast<float>(nibble - 8);
    }
    default:
      return NAN;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kv::fuzz::Input in(data, size);
  const auto dtype = static_cast<kv::DType>(in.read<uint8_t>() % 7);
  const int64_t n = (in.read<uint16_t>() % 65) * kv::dtype_block_elems(dtype);
  const size_t misalign = in.read<uint8_t>() % 64;
  const size_t row_bytes = static_cast<size_t>(kv::dtype_row_bytes(dtype, n));
  const std::vector<uint8_t> rest = in.rest();
  // Exactly row_bytes after the misalignment: ASan flags any read past the row.
  std::vector<uint8_t> buffer(misalign + row_bytes);
  if (!rest.empty() && row_bytes > 0) std::memcpy(buffer.data() + misalign, rest.data(), std::min(rest.size(), row_bytes));
  const uint8_t* row = buffer.data() + misalign;

  std::vector<float> reference(static_cast<size_t>(n));
  kv::cpu_portable::dequantize_row_cpu(reference.data(), row, dtype, n);
  const bool simple = dtype == kv::DType::F32 || dtype == kv::DType::F16 || dtype == kv::DType::BF16 ||
                      dtype == kv::DType::Q8_0 || dtype == kv::DType::Q4_0;
  for (int64_t i = 0; simple && i < n; ++i) {
    if (!same(reference[i], scalar_reference(dtype, row, i))) {
      kv::fuzz::oracle_failure(std::string("portable ") + kv::dtype_name(dtype) + " element " + std::to_string(i) +
                               " differs from the scalar formula");
    }
  }
  for (kv::Isa isa : {kv::Isa::Avx2, kv::Isa::Avx512}) {
    if (!kv::isa_supported(isa)) continue;
    std::vector<float> out(static_cast<size_t>(n));
    KV_CPU_DISPATCH(isa, dequantize_row_cpu, out.data(), row, dtype, n);
    for (int64_t i = 0; i < n; ++i) {
      if (!same(out[i], reference[i])) {
        kv::fuzz::oracle_failure(std::string(kv::isa_name(isa)) + " " + kv::dtype_name(dtype) + " element " +
                                 std::to_string(i) + " differs from the portable kernel");
      }
    }
  }
  return 0;
}
