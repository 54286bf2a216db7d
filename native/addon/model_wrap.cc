#include "model_wrap.h"

#include "model_config_parse.h"
#include "napi_util.h"
#include "step_input_parse.h"
#include "sampling_input.h"
#include "step_worker.h"

namespace kv::napi {

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {
                         InstanceMethod<&ModelWrap::Step>("step"),
                         InstanceMethod<&ModelWrap::Info>("info"),
                         InstanceMethod<&ModelWrap::Close>("close"),
                     });
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw TypeError(env, "Model: expected a model description object");
  ModelDescription desc = parse_model_description(info[0].As<Napi::Object>());
  try {
    model_ = std::make_unique<LlamaModel>(desc.config, std::move(desc.weights));
    const LlamaConfig& c = model_->config();
    cache_ = std::make_unique<KvCache>(c.num_layers, desc.kv.num_blocks, desc.kv.block_size, c.num_kv_heads, c.head_dim,
                                       desc.kv.dtype);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "Model: out of memory allocating the KV cache (" + std::to_string(desc.kv.num_blocks) +
                                    " blocks); lower kvCacheMemory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("Model: ") + e.what());
  }
  pool_ = std::make_unique<ThreadPool>(desc.threads);
  isa_ = desc.isa;
  try {
    packed_bytes_ = model_->pack_weights(isa_, *pool_);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "Model: out of memory packing the weights; set KVSERVE_PACK_WEIGHTS=0 to read them in place");
  }
}

Napi::Value ModelWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "Model.step: the model is closed");
  if (info.Length() < 1 || !info[0].IsObject()) throw TypeError(env, "Model.step: expected a step input object");
  const LlamaConfig& c = model_->config();
  StepInput input = parse_step_input(info[0].As<Napi::Object>(), {c.vocab_size, cache_->num_blocks(), cache_->block_size()});
  SamplingInput sampling = parse_sampling_input(info[0].As<Napi::Object>().Get("sampling"), input.num_logits(), c.vocab_size);
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true)) {
    throw Napi::Error::New(env, "Model.step: a step is already running (steps must be awaited one at a time)");
  }
  auto* worker = new StepWorker(env, this, Value(), std::move(input), std::move(sampling));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", isa_name(isa_));
  o.Set("threads", pool_->num_threads());
  o.Set("numBlocks", static_cast<double>(cache_->num_blocks()));
  o.Set("blockSize", static_cast<double>(cache_->block_size()));
  o.Set("kvCacheBytes", static_cast<double>(cache_->total_bytes()));
  o.Set("kvBytesPerToken", static_cast<double>(cache_->bytes_per_token()));
  o.Set("packedWeightBytes", static_cast<double>(packed_bytes_));
  return o;
}

Napi::Value ModelWrap::Close(const Napi::CallbackInfo& info) {
  if (busy_.load()) throw Napi::Error::New(info.Env(), "Model.close: a step is still running");
  closed_ = true;
  cache_.reset();
  model_.reset();
  pool_.reset();
  return info.Env().Undefined();
}

}  // namespace kv::napi
