#include "napi_util.h"

namespace kv::napi {

Isa isa_arg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsString()) throw TypeError(env, "isa: expected 'portable' | 'avx2' | 'avx512'");
  const std::string name = info[index].As<Napi::String>().Utf8Value();
  Isa isa;
  if (name == "portable") isa = Isa::Portable;
  else if (name == "avx2") isa = Isa::Avx2;
  else if (name == "avx512") isa = Isa::Avx512;
  else throw TypeError(env, "isa: expected 'portable' | 'avx2' | 'avx512', got '" + name + "'");
  if (!isa_supported(isa)) throw Napi::Error::New(env, "isa: this CPU cannot run the " + name + " kernels");
  return isa;
}

}  // namespace kv::napi
