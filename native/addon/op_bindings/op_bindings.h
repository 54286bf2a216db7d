// Direct bindings of single ops, for the op tests (every backend variant against a naive TS
// reference) and the per-op benches. Each op registers its functions on the `ops` export object.
#pragma once
#include <napi.h>

#include "core/thread_pool.h"

namespace kv::napi {

/** Pool shared by op bindings (2 threads unless a binding asks for another count). */
ThreadPool& op_thread_pool();
/** The same pool, first replaced by one of `num_threads` threads when its size differs. */
ThreadPool& op_thread_pool(int num_threads);

void register_rms_norm_binding(Napi::Env env, Napi::Object ops);
void register_dequantize_binding(Napi::Env env, Napi::Object ops);
void register_embedding_binding(Napi::Env env, Napi::Object ops);
void register_rope_binding(Napi::Env env, Napi::Object ops);
void register_rope_inv_freq_binding(Napi::Env env, Napi::Object ops);
void register_silu_mul_binding(Napi::Env env, Napi::Object ops);
void register_add_binding(Napi::Env env, Napi::Object ops);
void register_add_bias_binding(Napi::Env env, Napi::Object ops);
void register_argmax_binding(Napi::Env env, Napi::Object ops);
void register_sample_binding(Napi::Env env, Napi::Object ops);
void register_matmul_binding(Napi::Env env, Napi::Object ops);
void register_kv_cache_write_binding(Napi::Env env, Napi::Object ops);
void register_paged_attention_binding(Napi::Env env, Napi::Object ops);
void register_probe_bindings(Napi::Env env, Napi::Object ops);
void register_fused_ops_binding(Napi::Env env, Napi::Object ops);

}  // namespace kv::napi
