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
    if (desc.device == Device::Cuda) {
#if KV_WITH_CUDA
      cuda_ = std::make_unique<cuda::CudaLlamaModel>(
          *model_, cuda::CudaKvConfig{desc.kv.num_blocks, desc.kv.block_size, desc.kv.dtype});
#else
      throw std::invalid_argument(
          "device 'cuda': this is the CPU addon; build the CUDA addon (npm run build:cuda) and load it with device 'cuda'");
#endif
    } else {
      cache_ = std::make_unique<KvCache>(c.num_layers, desc.kv.num_blocks, desc.kv.block_size, c.num_kv_heads, c.head_dim,
                                         desc.kv.dtype);
    }
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "Model: out of memory allocating the KV cache (" + std::to_string(desc.kv.num_blocks) +
                                    " blocks); lower kvCacheMemory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("Model: ") + e.what());
  }
  pool_ = std::make_unique<ThreadPool>(desc.threads);
  isa_ = desc.isa;
  if (desc.device == Device::Cuda) return;  // the GPU holds its own copy of the weights
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
  if (in_flight_ >= 2) {
    throw Napi::Error::New(env, "Model.step: a step is already running and another is queued behind it (await one first)");
  }
  // Token ids -(r + 1) are allowed only in a step that says it continues the one submitted before it.
  const Napi::Value continues = info[0].As<Napi::Object>().Get("continuesPrevious");
  const bool continues_previous = continues.IsBoolean() && continues.As<Napi::Boolean>().Value();
  StepInput input = parse_step_input(info[0].As<Napi::Object>(), {c.vocab_size, kv_num_blocks(), kv_block_size(),
                                                                  continues_previous ? last_submitted_logits_ : 0});
  SamplingInput sampling = parse_sampling_input(info[0].As<Napi::Object>().Get("sampling"), input.num_logits(), c.vocab_size);
  last_submitted_logits_ = input.num_logits();
  auto* worker = new StepWorker(env, this, Value(), std::move(input), std::move(sampling), next_ticket_++);
  ++in_flight_;
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

int64_t ModelWrap::kv_num_blocks() const {
#if KV_WITH_CUDA
  if (cuda_) return cuda_->num_blocks();
#endif
  return cache_->num_blocks();
}

int64_t ModelWrap::kv_block_size() const {
#if KV_WITH_CUDA
  if (cuda_) return cuda_->block_size();
#endif
  return cache_->block_size();
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "Model.info: the model is closed");
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", isa_name(isa_));
  o.Set("threads", pool_->num_threads());
  o.Set("numBlocks", static_cast<double>(kv_num_blocks()));
  o.Set("blockSize", static_cast<double>(kv_block_size()));
  o.Set("device", "cpu");
  o.Set("packedWeightBytes", static_cast<double>(packed_bytes_));
#if KV_WITH_CUDA
  if (cuda_) {
    o.Set("device", "cuda");
    o.Set("deviceName", cuda_->device_name());
    o.Set("kvCacheBytes", static_cast<double>(cuda_->kv_cache_bytes()));
    o.Set("kvBytesPerToken", static_cast<double>(cuda_->kv_bytes_per_token()));
    o.Set("deviceWeightBytes", static_cast<double>(cuda_->weight_bytes()));
    return o;
  }
#endif
  o.Set("kvCacheBytes", static_cast<double>(cache_->total_bytes()));
  o.Set("kvBytesPerToken", static_cast<double>(cache_->bytes_per_token()));
  return o;
}

bool ModelWrap::wait_turn(uint64_t ticket, std::vector<int32_t>& previous_samples) {
  std::unique_lock<std::mutex> lock(turn_mutex_);
  turn_cv_.wait(lock, [&] { return turn_ == ticket; });
  previous_samples = last_samples_;
  return last_failed_;
}

void ModelWrap::finish_turn(const std::vector<int32_t>& samples, bool failed) {
  {
    std::lock_guard<std::mutex> lock(turn_mutex_);
    last_samples_ = samples;
    last_failed_ = failed;
    ++turn_;
  }
  turn_cv_.notify_all();
}

Napi::Value ModelWrap::Close(const Napi::CallbackInfo& info) {
  if (in_flight_ > 0) throw Napi::Error::New(info.Env(), "Model.close: a step is still running");
  closed_ = true;
#if KV_WITH_CUDA
  cuda_.reset();
#endif
  cache_.reset();
  model_.reset();
  pool_.reset();
  return info.Env().Undefined();
}

}  // namespace kv::napi
