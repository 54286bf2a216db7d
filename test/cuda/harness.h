// Minimal test harness for the CUDA kernel test programs (test/cuda/*_test.cu). A program builds with
// g++ against native/cuda_emu (kernels run on the CPU) or with nvcc (kernels run on a GPU); it only
// uses the CUDA runtime API (cudaMalloc, cudaMemcpy, launches through the ops' launchers).
// Output, read by test/cuda/kernels.test.ts: one line per test, "ok <name>" or "not ok <name>: why",
// then (emulated builds) one "sync-site <file>:<line>" line per __syncthreads site that ran, then
// "summary: <passed> passed, <failed> failed". Exit status 0 when every test passed.
// Usage: <program> [name-substring ...]   (no argument: every test)
#pragma once
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/kv_cuda.h"

namespace kvtest {

#if defined(KV_CUDA_EMU)
/** Kernels run on the CPU emulator: libm transcendentals, so kernels that only differ from the CPU
 *  kernels there (expf, sinf ...) must match them bit for bit. */
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

struct Case {
  const char* name;
  void (*fn)();
};

inline std::vector<Case>& cases() {
  static std::vector<Case> v;
  return v;
}

struct Register {
  Register(const char* name, void (*fn)()) { cases().push_back({name, fn}); }
};

struct State {
  int failures_in_case = 0;
  std::string first_failure;
};
inline State& state() {
  static State s;
  return s;
}

inline void fail(const char* file, int line, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  State& s = state();
  if (s.failures_in_case++ == 0) {
    const char* slash = std::strrchr(file, '/');
    s.first_failure = std::string(slash ? slash + 1 : file) + ":" + std::to_string(line) + ": " + buf;
  }
}

/** Device copy of a host vector; freed on destruction. */
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    KV_CUDA_CHECK(cudaMalloc(&ptr_, n * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void upload(const std::vector<T>& host) {
    if (!host.empty()) KV_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_) KV_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  T* get() const { return ptr_; }
  size_t size() const { return n_; }

 private:
  T* ptr_ = nullptr;
  size_t n_;
};

/** Deterministic random numbers (failures reproduce). */
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen_); }
  int64_t integer(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen_); }
  std::vector<float> floats(size_t n, float lo, float hi) {
    std::vector<float> v(n);
    for (float& x : v) x = uniform(lo, hi);
    return v;
  }
  std::mt19937_64& engine() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

/** max |a - b| / (|b| + floor); NaN where exactly one side is NaN counts as infinite. */
inline double max_rel_error(const float* a, const float* b, size_t n, double floor) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (a[i] == b[i]) continue;  // equal infinities too
    const double e = std::fabs(static_cast<double>(a[i]) - b[i]) / (std::fabs(static_cast<double>(b[i])) + floor);
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  return worst;
}
inline double max_rel_error(const std::vector<float>& a, const std::vector<float>& b, double floor) {
  if (a.size() != b.size()) return INFINITY;
  return max_rel_error(a.data(), b.data(), a.size(), floor);
}

/** Index of the first element whose bits differ, or -1. */
template <typename T>
inline int64_t first_bit_difference(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  }
  return -1;
}

inline int run_all(int argc, char** argv) {
  int passed = 0, failed = 0;
  for (const Case& c : cases()) {
    bool selected = argc <= 1;
    for (int i = 1; i < argc && !selected; ++i) selected = std::strstr(c.name, argv[i]) != nullptr;
    if (!selected) continue;
    State& s = state();
    s.failures_in_case = 0;
    s.first_failure.clear();
    try {
      c.fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, "exception: %s", e.what());
    }
    if (s.failures_in_case == 0) {
      std::printf("ok %s\n", c.name);
      ++passed;
    } else {
      std::printf("not ok %s: %s (%d failed checks)\n", c.name, s.first_failure.c_str(), s.failures_in_case);
      ++failed;
    }
    std::fflush(stdout);
  }
#if defined(KV_CUDA_EMU)
  for (const std::string& site : kvemu::visited_sync_sites()) std::printf("sync-site %s\n", site.c_str());
#endif
  std::printf("summary: %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace kvtest

#define KV_TEST(name)                                              \
  static void name();                                              \
  static ::kvtest::Register kv_test_register_##name(#name, name); \
  static void name()

/** Records a failure (the test goes on, so one run reports every broken shape). */
#define KV_EXPECT(cond, ...)                                          \
  do {                                                                \
    if (!(cond)) ::kvtest::fail(__FILE__, __LINE__, __VA_ARGS__);     \
  } while (0)

#define KV_TEST_MAIN() \
  int main(int argc, char** argv) { return ::kvtest::run_all(argc, argv); }
