// cuda_emu: compiles unchanged CUDA kernel source with a host C++ compiler (g++ / clang++) and runs it
// on the CPU, so kvserve's CUDA kernels are executed and tested on machines without a GPU.
//
// How it runs a launch (native/cuda_emu/cuda_emu.cc):
//   - blocks are spread over worker OS threads (KV_EMU_WORKERS, default min(4, cores)); blocks of one
//     launch run in parallel, so atomics are real atomics;
//   - each CUDA thread of a block is a fiber with its own mmap'd stack (guard page below it), switched
//     by a hand-written x86-64 context switch; a fiber runs until its next sync point;
//   - __syncthreads is a block barrier; shuffles, votes and __syncwarp are per-warp barriers with
//     exchange slots, so warps may loop different numbers of times; a thread that returns leaves every
//     barrier; a shuffle that reads an exited lane, lanes of one warp at different sync sites, threads
//     of a block at different __syncthreads sites and deadlocks abort with a report;
//   - threadIdx / blockIdx / blockDim / gridDim are thread_local and set before each switch;
//   - static __shared__ is thread_local (one copy per worker = per running block); the dynamic
//     `extern __shared__` array is a thread_local buffer filled with 0xff (NaN) at each block start;
//   - the order in which runnable fibers run is forward, reverse or random (KV_EMU_SCHEDULE), which
//     exposes missing barriers; KV_EMU_DROP_SYNC=<file>:<line> skips one __syncthreads site, so a test
//     can prove that every barrier is needed; KV_EMU_SITES_OUT=<path> lists the sites that ran.
// Kernel source sees no __CUDA_ARCH__: code for tensor cores or inline PTX needs a portable path.
// Not bit-exact with a GPU for transcendental functions (libm here, libdevice there).
#pragma once

#if defined(__CUDACC__)
#error "cuda_emu.h is for host compilers; nvcc builds use the CUDA runtime headers"
#endif
#if !defined(__x86_64__)
#error "cuda_emu supports x86-64 only (hand-written fiber switch)"
#endif

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#define KV_CUDA_EMU 1

// ---- CUDA keywords (not __noinline__: libstdc++ spells its own attribute that way) ----
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline __attribute__((always_inline))
#define __shared__ thread_local
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __grid_constant__

// ---- built-in vector types ----
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define KVEMU_VEC2(T, N, A) \
  struct alignas(A) N##2 { T x, y; }; \
  inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define KVEMU_VEC4(T, N, A) \
  struct alignas(A) N##4 { T x, y, z, w; }; \
  inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
KVEMU_VEC2(float, float, 8)
KVEMU_VEC4(float, float, 16)
KVEMU_VEC2(int, int, 8)
KVEMU_VEC4(int, int, 16)
KVEMU_VEC2(unsigned int, uint, 8)
KVEMU_VEC4(unsigned int, uint, 16)
KVEMU_VEC2(double, double, 16)
KVEMU_VEC4(signed char, char, 4)
KVEMU_VEC4(unsigned char, uchar, 4)
KVEMU_VEC2(short, short, 4)
KVEMU_VEC2(unsigned short, ushort, 4)
#undef KVEMU_VEC2
#undef KVEMU_VEC4
inline uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }

// ---- built-in variables: per OS thread, set by the scheduler before it switches to a fiber ----
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- runtime API (the subset kvserve uses; values match the CUDA runtime's) ----
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
  int l2CacheSize;
};

cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
inline cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

namespace kvemu {

/** Largest dynamic shared memory a block may ask for (after cudaFuncSetAttribute), as on sm_90. */
constexpr size_t kMaxDynamicSharedBytes = 227 * 1024;
/** Dynamic shared memory allowed without cudaFuncSetAttribute. */
constexpr size_t kDefaultDynamicSharedBytes = 48 * 1024;

cudaError_t set_func_attribute(const void* fn, cudaFuncAttribute attr, int value);

struct LaunchSpec {
  const char* name;
  const void* fn;
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
};

/** Runs every block of the launch (returns when all are done); errors go to cudaGetLastError. */
void run_launch(const LaunchSpec& spec, void (*thunk)(void*), void* ctx);

/** What KV_LAUNCH(kernel, grid, block, smem, stream) returns: call it with the kernel's arguments. */
template <typename... P>
class Launcher {
 public:
  Launcher(void (*fn)(P...), const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream)
      : fn_(fn), spec_{name, reinterpret_cast<const void*>(fn), grid, block, smem, stream} {}

  template <typename... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
    // Converted once, like the arguments of a call; every CUDA thread gets its own copy (by value).
    struct Ctx {
      void (*fn)(P...);
      std::tuple<std::decay_t<P>...> args;
    };
    Ctx ctx{fn_, std::tuple<std::decay_t<P>...>(static_cast<std::decay_t<P>>(std::forward<A>(args))...)};
    run_launch(spec_, [](void* c) {
      Ctx* x = static_cast<Ctx*>(c);
      std::apply(x->fn, x->args);  // lvalue elements: copied into the kernel's by-value parameters
    }, &ctx);
  }

 private:
  void (*fn_)(P...);
  LaunchSpec spec_;
};

template <typename... P>
Launcher<P...> launch_config(void (*fn)(P...), const char* name, dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream) {
  return Launcher<P...>(fn, name, grid, block, smem, stream);
}

/** Thread order of a block: forward (0, 1, ...), reverse, or a seeded random order per round. */
enum class Schedule { Forward, Reverse, Random };
void set_schedule(Schedule schedule, uint64_t seed);
/** Back to the order KV_EMU_SCHEDULE / KV_EMU_SEED name (forward when unset). */
void reset_schedule();

/** The __syncthreads sites ("<file>:<line>") that have run in this process, sorted. */
std::vector<std::string> visited_sync_sites();

/** Registers a thread_local dynamic shared buffer (see KV_EMU_DYNAMIC_SHARED); emulator internal. */
struct DynamicSharedRegistration {
  explicit DynamicSharedRegistration(void* (*address)());
};

}  // namespace kvemu

template <typename F>
inline cudaError_t cudaFuncSetAttribute(F* fn, cudaFuncAttribute attr, int value) {
  return kvemu::set_func_attribute(reinterpret_cast<const void*>(fn), attr, value);
}

// Defines an `extern __shared__` array name for the emulator: a thread_local buffer of the largest
// dynamic size, filled with 0xff bytes at each block start (bytes past the launch's size are poisoned
// under AddressSanitizer). cuda_emu.cc defines `kv_smem`, the name kvserve's kernels use:
//   extern __shared__ __align__(16) unsigned char kv_smem[];
#define KV_EMU_DYNAMIC_SHARED(type, name)                                                              \
  thread_local __attribute__((aligned(128))) type name[::kvemu::kMaxDynamicSharedBytes / sizeof(type)]; \
  static ::kvemu::DynamicSharedRegistration kvemu_dynamic_shared_##name([]() -> void* { return name; });

#include "cuda_emu/cuda_emu_fp16.h"
#include "cuda_emu/cuda_emu_math.h"
#include "cuda_emu/cuda_emu_sync.h"
#include "cuda_emu/cuda_emu_wmma.h"
