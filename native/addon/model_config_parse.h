// Reads the JS model description ({ files, tensors, config, kvCache, threads, isa, device }) into native
// structures, validating every field with errors that name it.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/isa.h"
#include "core/weights.h"
#include "models/llama.h"

namespace kv::napi {

struct KvCacheOptions {
  int64_t num_blocks = 0;
  int64_t block_size = 16;
  DType dtype = DType::F32;
};

enum class Device { Cpu, Cuda };

struct ModelDescription {
  LlamaConfig config;
  std::unique_ptr<ModelWeights> weights;
  KvCacheOptions kv;
  int threads = 1;
  Isa isa = Isa::Portable;
  Device device = Device::Cpu;  // `device: 'cpu' | 'cuda'` (default 'cpu')
};

ModelDescription parse_model_description(const Napi::Object& desc);

}  // namespace kv::napi
