// Module init: the native contract of kvserve. Every export is listed here with one comment line;
// lib/native/types.ts mirrors it one to one.
#include <napi.h>

#include "core/isa.h"
#include "model_wrap.h"
#include "op_bindings/op_bindings.h"

namespace kv::napi {

#if KV_WITH_CUDA
void register_cuda_probe(Napi::Env env, Napi::Object exports);  // cuda_probe_binding.cc
#endif

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
#if KV_WITH_CUDA
  exports.Set("backend", "cuda");                // which backend this binary is: 'cpu' | 'cuda' (CUDA addon: both devices)
  register_cuda_probe(env, exports);             // cudaProbe() -> { ok, driverVersion, runtimeVersion, deviceCount, devices, error }
#else
  exports.Set("backend", "cpu");                 // which backend this binary is: 'cpu' | 'cuda' (CUDA addon: both devices)
#endif
  exports.Set("cpuInfo", CpuInfo(env));          // CPU features and the kernel variants this CPU can run
  exports.Set("Model", ModelWrap::Define(env));  // new Model(description): weights + KV cache (description.device 'cpu' | 'cuda'); step(input) -> Promise<StepResult>
  Napi::Object ops = Napi::Object::New(env);     // single-op entry points for op tests and benches:
  register_rms_norm_binding(env, ops);           //   ops.rmsNorm(isa, out, x, weight, rows, dim, eps)
  register_dequantize_binding(env, ops);         //   ops.dequantizeRow(isa, out, row, dtype, n)
  register_embedding_binding(env, ops);          //   ops.embedding(isa, out, table, dtype, vocab, dim, ids)
  register_rope_binding(env, ops);               //   ops.rope(isa, x, nTokens, nHeads, headDim, ropeDim, positions, invFreq, positionScale, layout)
  register_rope_inv_freq_binding(env, ops);      //   ops.ropeInvFreq(ropeDim, theta, freqFactors | null, llama3 | null) -> Float32Array
  register_silu_mul_binding(env, ops);           //   ops.siluMul(isa, out, gate, up, n)
  register_add_binding(env, ops);                //   ops.add(isa, out, a, b, n)
  register_add_bias_binding(env, ops);           //   ops.addBias(isa, x, bias, rows, cols)
  register_argmax_binding(env, ops);             //   ops.argmaxRows(isa, out, x, rows, cols)
  register_sample_binding(env, ops);             //   ops.sample(isa, outIds, outLogprobs, outTopIds, outTopLogprobs, maxLogprobs, logits, rows, vocab, params, history, biasIds, biasValues, threads)
  register_matmul_binding(env, ops);             //   ops.matmul(isa, out, x, weight, dtype, n, k, bias, m, threads, packed?) / ops.matmulPack(isa, weight, dtype, n, k) / ops.matmulMulti(isa, outs[], x, weights[], dtype, ns[], k, biases[], m, threads, packed?)
  register_kv_cache_write_binding(env, ops);     //   ops.kvCacheWrite(isa, kCache, vCache, kvDtype, numBlocks, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize)
  register_paged_attention_binding(env, ops);    //   ops.pagedAttention(isa, out, q, kCache, vCache, kvDtype, numBlocks, queryStartLoc, seqLens, blockTables, maxBlocksPerSeq, numSeqs, nHeads, nKvHeads, headDim, blockSize, scale, threads)
  register_probe_bindings(env, ops);             //   ops.probeRead(isa, threads, bytesPerThread, passes) / ops.probeCompute(isa, 'fma_f32' | 'dot_i8', threads, iterations) -> { seconds, bytes | ops }
  register_fused_ops_binding(env, ops);          //   ops.fusedAddRmsNormMatmuls / fusedSiluMulMatmul / fusedRopeKvCacheWrite(isa, fused, ...): fused or separate (op tests)
  exports.Set("ops", ops);
  return exports;
}

}  // namespace kv::napi

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return kv::napi::Init(env, exports); }

NODE_API_MODULE(kvserve, InitModule)
