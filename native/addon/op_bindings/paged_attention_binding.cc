#include <cfloat>
#include <cmath>
#include <exception>
#include <string>

#include "core/isa.h"
#include "core/scratch.h"
#include "napi_util.h"
#include "op_bindings/kv_cache_args.h"
#include "op_bindings/op_bindings.h"
#include "ops/paged_attention/paged_attention.h"

namespace kv::napi {

namespace {

Napi::Error range_error(Napi::Env env, const std::string& message) { return Napi::RangeError::New(env, message); }

std::string at(const char* name, int64_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }

// pagedAttention(isa, out, q, kCache, vCache, kvDtype, numBlocks, queryStartLoc, seqLens, blockTables,
//                maxBlocksPerSeq, numSeqs, nHeads, nKvHeads, headDim, blockSize, scale, threads)
// Checks every invariant of paged_attention.h, so the kernel never reads out of bounds.
Napi::Value PagedAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const DType dtype = kv_dtype_arg(info, 5);
  const int64_t num_blocks = int_arg(info, 6, "numBlocks", 0, INT32_MAX);
  const int64_t max_blocks = int_arg(info, 10, "maxBlocksPerSeq", 0, INT32_MAX);
  const int64_t num_seqs = int_arg(info, 11, "numSeqs", 0, INT32_MAX - 1);
  const int64_t n_heads = int_arg(info, 12, "nHeads", 1, 4096);
  const int64_t n_kv_heads = int_arg(info, 13, "nKvHeads", 1, 4096);
  const int64_t head_dim = int_arg(info, 14, "headDim", 1, 4096);
  const int64_t block_size = int_arg(info, 15, "blockSize", 1, 65536);
  const double scale = number_arg(info, 16, "scale");
  const int threads = static_cast<int>(int_arg(info, 17, "threads", 1, 256));
  if (!(std::fabs(scale) <= FLT_MAX)) throw range_error(env, "scale: expected a finite float, got " + std::to_string(scale));
  if (n_heads % n_kv_heads != 0) {
    throw range_error(env, "nHeads: expected a multiple of nKvHeads = " + std::to_string(n_kv_heads) + ", got " +
                               std::to_string(n_heads));
  }

  const int32_t* qsl = typed_array<int32_t>(info, 7, "queryStartLoc", static_cast<size_t>(num_seqs + 1));
  const int32_t* seq_lens = typed_array<int32_t>(info, 8, "seqLens", static_cast<size_t>(num_seqs));
  const int64_t table_len = checked_product(env, "blockTables", {num_seqs, max_blocks});
  const int32_t* tables = typed_array<int32_t>(info, 9, "blockTables", static_cast<size_t>(table_len));
  if (qsl[0] != 0) throw range_error(env, "queryStartLoc[0]: expected 0, got " + std::to_string(qsl[0]));
  for (int64_t s = 0; s < num_seqs; ++s) {
    if (qsl[s + 1] < qsl[s]) {
      throw range_error(env, "queryStartLoc: expected non-decreasing values, got " + at("queryStartLoc", s + 1) + " = " +
                                 std::to_string(qsl[s + 1]) + " < " + at("queryStartLoc", s) + " = " + std::to_string(qsl[s]));
    }
    const int64_t len = int64_t(qsl[s + 1]) - qsl[s], ctx = seq_lens[s];
    if (ctx < len) {
      throw range_error(env, at("seqLens", s) + ": expected at least the query length " + std::to_string(len) +
                                 " (the context includes this step's tokens), got " + std::to_string(ctx));
    }
    const int64_t needed = (ctx + block_size - 1) / block_size;
    if (needed > max_blocks) {
      throw range_error(env, at("seqLens", s) + " = " + std::to_string(ctx) + " needs " + std::to_string(needed) +
                                 " blocks of " + std::to_string(block_size) + ", but maxBlocksPerSeq is " +
                                 std::to_string(max_blocks));
    }
    for (int64_t b = 0; b < needed; ++b) {
      const int32_t id = tables[s * max_blocks + b];
      if (id < 0 || id >= num_blocks) {
        throw range_error(env, "blockTables[" + std::to_string(s) + ", " + std::to_string(b) +
                                   "]: expected a block id in [0, " + std::to_string(num_blocks) + ") (numBlocks), got " +
                                   std::to_string(id));
      }
    }
  }
  const int64_t rows = checked_product(env, "q", {qsl[num_seqs], n_heads, head_dim});
  const float* q = typed_array<float>(info, 2, "q", static_cast<size_t>(rows));
  float* out = typed_array<float>(info, 1, "out", static_cast<size_t>(rows));
  const uint8_t* k_cache = kv_cache_arg(info, 3, "kCache", dtype, num_blocks, n_kv_heads, block_size, head_dim);
  const uint8_t* v_cache = kv_cache_arg(info, 4, "vCache", dtype, num_blocks, n_kv_heads, block_size, head_dim);

  static Scratch scratch;  // JS calls are serialized on the main thread; reused across calls
  try {
    ThreadPool& pool = op_thread_pool(threads);
    KV_CPU_DISPATCH(isa, paged_attention_cpu, out, q, k_cache, v_cache, dtype, qsl, seq_lens, tables, max_blocks,
                    num_seqs, n_heads, n_kv_heads, head_dim, block_size, static_cast<float>(scale), pool, scratch);
  } catch (const std::exception& e) {  // scratch or thread creation failed: a JS error, not a crash
    throw Napi::Error::New(env, std::string("pagedAttention: ") + e.what());
  }
  return env.Undefined();
}

}  // namespace

void register_paged_attention_binding(Napi::Env env, Napi::Object ops) {
  ops.Set("pagedAttention", Napi::Function::New(env, PagedAttention));
}

}  // namespace kv::napi
