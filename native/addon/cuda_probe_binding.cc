// cudaProbe(): what the CUDA runtime of this binary sees (CUDA addon only; the CPU build compiles this
// file to nothing). lib/native/cuda-probe.ts calls it in a child process before the server loads the
// CUDA addon, so a broken driver cannot take the server down.
#if KV_WITH_CUDA
#include <napi.h>

#include "backends/cuda/cuda_llama.h"

namespace kv::napi {

namespace {

Napi::Value CudaProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::CudaProbe p = cuda::probe_cuda();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", p.ok);
  o.Set("driverVersion", p.driver_version);
  o.Set("runtimeVersion", p.runtime_version);
  o.Set("deviceCount", p.device_count);
  o.Set("error", p.error);
  Napi::Array devices = Napi::Array::New(env, p.devices.size());
  for (uint32_t i = 0; i < p.devices.size(); ++i) devices.Set(i, p.devices[i]);
  o.Set("devices", devices);
  return o;
}

}  // namespace

void register_cuda_probe(Napi::Env env, Napi::Object exports) { exports.Set("cudaProbe", Napi::Function::New(env, CudaProbe)); }

}  // namespace kv::napi
#endif
