#include "model_config_parse.h"

#include <cmath>
#include <thread>

#include "core/checked_number.h"
#include "napi_util.h"

namespace kv::napi {

namespace {

double get_number(const Napi::Object& o, const char* obj, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw TypeError(o.Env(), std::string(obj) + "." + key + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw TypeError(o.Env(), std::string(obj) + "." + key + ": expected a finite number");
  return d;
}

int64_t get_int(const Napi::Object& o, const char* obj, const char* key, int64_t lo, int64_t hi) {
  const double d = get_number(o, obj, key);
  if (d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw Napi::RangeError::New(o.Env(), std::string(obj) + "." + key + ": expected an integer in [" +
                                             std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

bool get_bool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

Napi::Object get_object(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) throw TypeError(o.Env(), std::string(key) + ": expected an object");
  return v.As<Napi::Object>();
}

constexpr int64_t kMaxDim = int64_t(1) << 20;

/** One entry of a tensor shape: an integer in [1, 2^40] (weights.cc's own bound). */
int64_t shape_dim(Napi::Env env, const Napi::Value& v, const std::string& field) {
  if (!v.IsNumber()) throw TypeError(env, field + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  int64_t dim = 0;
  if (!checked_integer(d, 1, int64_t(1) << 40, &dim)) {
    throw Napi::RangeError::New(env, field + ": expected an integer in [1, 2^40], got " + std::to_string(d));
  }
  return dim;
}

}  // namespace

ModelDescription parse_model_description(const Napi::Object& desc) {
  Napi::Env env = desc.Env();
  ModelDescription out;

  Napi::Value files_v = desc.Get("files");
  if (!files_v.IsArray()) throw TypeError(env, "files: expected an array of paths");
  Napi::Array files_a = files_v.As<Napi::Array>();
  std::vector<std::string> files;
  for (uint32_t i = 0; i < files_a.Length(); ++i) {
    Napi::Value f = files_a.Get(i);
    if (!f.IsString()) throw TypeError(env, "files[" + std::to_string(i) + "]: expected a string");
    files.push_back(f.As<Napi::String>().Utf8Value());
  }
  try {
    out.weights = std::make_unique<ModelWeights>(files);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }

  Napi::Value tensors_v = desc.Get("tensors");
  if (!tensors_v.IsArray()) throw TypeError(env, "tensors: expected an array");
  Napi::Array tensors = tensors_v.As<Napi::Array>();
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    const std::string at = "tensors[" + std::to_string(i) + "]";
    Napi::Value tv = tensors.Get(i);
    if (!tv.IsObject()) throw TypeError(env, at + ": expected an object");
    Napi::Object t = tv.As<Napi::Object>();
    Napi::Value name_v = t.Get("name");
    if (!name_v.IsString()) throw TypeError(env, at + ".name: expected a string");
    const std::string name = name_v.As<Napi::String>().Utf8Value();
    // Every message names the tensor: "tensors[3] 'blk.0.attn_q.weight'.offset: ...".
    const std::string label = at + " '" + name + "'";
    const int64_t dtype = get_int(t, label.c_str(), "dtype", 0, 6);
    Napi::Value shape_v = t.Get("shape");
    if (!shape_v.IsArray()) throw TypeError(env, label + ".shape: expected an array");
    Napi::Array shape_a = shape_v.As<Napi::Array>();
    std::vector<int64_t> shape;
    for (uint32_t j = 0; j < shape_a.Length() && j < 5; ++j) {
      // Checked here so no NaN, infinity or huge value reaches an integer conversion.
      shape.push_back(shape_dim(env, shape_a.Get(j), label + ".shape[" + std::to_string(j) + "]"));
    }
    const int64_t file_index = get_int(t, label.c_str(), "fileIndex", 0, 1 << 20);
    const int64_t offset = get_int(t, label.c_str(), "offset", 0, int64_t(1) << 52);
    const int64_t length = get_int(t, label.c_str(), "byteLength", 0, int64_t(1) << 52);
    try {
      out.weights->add(name, static_cast<DType>(dtype), shape, static_cast<int32_t>(file_index),
                       static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Object c = get_object(desc, "config");
  LlamaConfig& cfg = out.config;
  cfg.hidden_size = get_int(c, "config", "hiddenSize", 1, kMaxDim);
  cfg.num_layers = get_int(c, "config", "numLayers", 1, 1024);
  cfg.num_heads = get_int(c, "config", "numHeads", 1, 1024);
  cfg.num_kv_heads = get_int(c, "config", "numKvHeads", 1, 1024);
  cfg.head_dim = get_int(c, "config", "headDim", 1, 1024);
  cfg.intermediate_size = get_int(c, "config", "intermediateSize", 1, kMaxDim);
  cfg.vocab_size = get_int(c, "config", "vocabSize", 1, int64_t(1) << 24);
  cfg.rms_norm_eps = static_cast<float>(get_number(c, "config", "rmsNormEps"));
  cfg.rope_theta = get_number(c, "config", "ropeTheta");
  cfg.rope_dim = get_int(c, "config", "ropeDim", 2, 1024);
  cfg.rope_layout = static_cast<int32_t>(get_int(c, "config", "ropeLayout", 0, 1));
  cfg.rope_position_scale = static_cast<float>(get_number(c, "config", "ropePositionScale"));
  cfg.qkv_bias = get_bool(c, "qkvBias");
  cfg.attn_output_bias = get_bool(c, "attnOutputBias");
  cfg.qk_norm = get_bool(c, "qkNorm");
  cfg.tied_embeddings = get_bool(c, "tiedEmbeddings");
  Napi::Value l3 = c.Get("llama3");
  if (l3.IsObject()) {
    Napi::Object o = l3.As<Napi::Object>();
    cfg.llama3_scaling = true;
    cfg.llama3_factor = get_number(o, "config.llama3", "factor");
    cfg.llama3_low_freq_factor = get_number(o, "config.llama3", "lowFreqFactor");
    cfg.llama3_high_freq_factor = get_number(o, "config.llama3", "highFreqFactor");
    cfg.llama3_original_max_position = get_number(o, "config.llama3", "originalMaxPositionEmbeddings");
  }

  Napi::Object kvo = get_object(desc, "kvCache");
  out.kv.num_blocks = get_int(kvo, "kvCache", "numBlocks", 1, int64_t(1) << 30);
  out.kv.block_size = get_int(kvo, "kvCache", "blockSize", 1, 1024);
  const int64_t kv_dtype = get_int(kvo, "kvCache", "dtype", 0, 2);
  out.kv.dtype = static_cast<DType>(kv_dtype);

  const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
  out.threads = static_cast<int>(get_int(desc, "model", "threads", 1, std::max<int64_t>(hw, 256)));
  Napi::Value isa = desc.Get("isa");
  out.isa = best_isa();
  if (isa.IsString()) {
    const std::string name = isa.As<Napi::String>().Utf8Value();
    if (name == "portable") out.isa = Isa::Portable;
    else if (name == "avx2") out.isa = Isa::Avx2;
    else if (name == "avx512") out.isa = Isa::Avx512;
    else throw TypeError(env, "isa: expected 'portable' | 'avx2' | 'avx512', got '" + name + "'");
    if (!isa_supported(out.isa)) throw Napi::Error::New(env, "isa: this CPU cannot run the " + name + " kernels");
  }
  Napi::Value device = desc.Get("device");
  if (!device.IsUndefined()) {
    const std::string name = device.IsString() ? device.As<Napi::String>().Utf8Value() : std::string("(not a string)");
    if (name == "cpu") out.device = Device::Cpu;
    else if (name == "cuda") out.device = Device::Cuda;
    else throw TypeError(env, "device: expected 'cpu' | 'cuda', got '" + name + "'");
  }
  return out;
}

}  // namespace kv::napi
