// embedding: out[i, :] = dequantize(table[ids[i], :]) (ggml get_rows).
//   out   [n, dim]     f32
//   table [vocab, dim] any DType, rows of dtype_row_bytes(dtype, dim) bytes
//   ids   [n]          int32, each in [0, vocab): callers validate (the binding checks every id)
// dim must be a multiple of dtype_block_elems(dtype).
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void embedding_cpu(float* out, const void* table, kv::DType dtype, int64_t dim,
                                         const int32_t* ids, int64_t n))
