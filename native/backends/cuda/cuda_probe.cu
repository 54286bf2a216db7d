// probe_cuda (see cuda_llama.h): what the CUDA runtime sees, for the loader's child-process probe and
// `kvserve doctor`. A device counts as usable from compute capability 8.0: the addon carries sm_80 /
// sm_86 / sm_89 / sm_90 code and compute_90 PTX (CI builds: sm_80 + compute_80 PTX).
#include <cstdio>

#include "backends/cuda/cuda_llama.h"
#include "core/cuda/kv_cuda.h"

namespace kv::cuda {

CudaProbe probe_cuda() {
  CudaProbe p;
  cudaDriverGetVersion(&p.driver_version);
  cudaRuntimeGetVersion(&p.runtime_version);
  const cudaError_t e = cudaGetDeviceCount(&p.device_count);
  if (e != cudaSuccess) {
    p.device_count = 0;
    p.error = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();
    return p;
  }
  int usable = 0;
  std::string too_old;
  for (int i = 0; i < p.device_count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    char line[384];
    std::snprintf(line, sizeof(line), "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    p.devices.push_back(line);
    if (prop.major >= 8) ++usable;
    else too_old = line;
  }
  p.ok = usable > 0;
  if (!p.ok) {
    p.error = p.device_count == 0 ? "no CUDA device found"
                                  : "no device of compute capability 8.0 or newer (found " + too_old + ")";
  }
  return p;
}

}  // namespace kv::cuda
