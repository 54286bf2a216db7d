// Module init: the native contract of kvserve. Every export is listed here with one comment line;
// lib/native/types.ts mirrors it one to one.
#include <napi.h>

#include "core/isa.h"
#include "op_bindings/op_bindings.h"

namespace kv::napi {

namespace {

Napi::Object CpuInfo(Napi::Env env) {
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
  o.Set("avx2", f.avx2);
  o.Set("avx512", f.avx512);
  o.Set("avx512vnni", f.avx512vnni);
  o.Set("avx512bf16", f.avx512bf16);
  o.Set("avxvnni", f.avxvnni);
  o.Set("bestIsa", isa_name(best_isa()));
  Napi::Array supported = Napi::Array::New(env);
  uint32_t n = 0;
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(isa)) supported.Set(n++, isa_name(isa));
  }
  o.Set("supportedIsas", supported);
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("backend", "cpu");                 // which backend this binary is: 'cpu' | 'cuda'
  exports.Set("cpuInfo", CpuInfo(env));          // CPU features and the kernel variants this CPU can run
  Napi::Object ops = Napi::Object::New(env);     // single-op entry points for op tests and benches:
  register_rms_norm_binding(env, ops);           //   ops.rmsNorm(isa, out, x, weight, rows, dim, eps)
  register_kv_cache_write_binding(env, ops);     //   ops.kvCacheWrite(isa, kCache, vCache, kvDtype, numBlocks, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize)
  register_paged_attention_binding(env, ops);    //   ops.pagedAttention(isa, out, q, kCache, vCache, kvDtype, numBlocks, queryStartLoc, seqLens, blockTables, maxBlocksPerSeq, numSeqs, nHeads, nKvHeads, headDim, blockSize, scale, threads)
  exports.Set("ops", ops);
  return exports;
}

}  // namespace kv::napi

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return kv::napi::Init(env, exports); }

NODE_API_MODULE(kvserve, InitModule)
