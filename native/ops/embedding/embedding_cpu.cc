// CPU kernel for embedding (see embedding.h): one dequantize_row per token, with the same ISA variant,
// so an embedded row is bit-identical to the dequantized weight row.
#include "ops/dequantize/dequantize.h"
#include "ops/embedding/embedding.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

void embedding_cpu(float* out, const void* table, DType dtype, int64_t dim, const int32_t* ids, int64_t n) {
  const int64_t row_bytes = dtype_row_bytes(dtype, dim);
  const uint8_t* base = static_cast<const uint8_t*>(table);
  for (int64_t i = 0; i < n; ++i) {
    dequantize_row_cpu(out + i * dim, base + static_cast<int64_t>(ids[i]) * row_bytes, dtype, dim);
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
