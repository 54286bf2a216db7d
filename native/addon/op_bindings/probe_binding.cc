// Machine probes for the benches (native/ops/probe/probe.h), run on `threads` threads at once:
//   probeRead(isa, threads, bytesPerThread, passes) -> { seconds, bytes, cpuRate }
//   probeCompute(isa, 'fma_f32' | 'dot_i8', threads, iterations) -> { seconds, ops, cpuRate }
// seconds: from the first thread's start to the last thread's end (threads start together after a
// barrier, so thread creation is not timed). cpuRate: the sum over threads of each thread's amount
// over its own CPU time (CLOCK_THREAD_CPUTIME_ID): the rate while running, which other processes
// taking the cores for a while do not lower. Each read thread streams its own buffer, touched first.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <ctime>
#include <vector>

#include "core/isa.h"
#include "napi_util.h"
#include "op_bindings/op_bindings.h"
#include "ops/probe/probe.h"

namespace kv::napi {

namespace {

using Clock = std::chrono::steady_clock;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs fn(thread) on `threads` threads started together; returns the wall seconds of the whole run
// and stores each thread's CPU seconds in cpu (when given).
template <typename Fn>
double run_together(int threads, Fn&& fn, std::vector<double>* cpu = nullptr) {
  std::atomic<int> ready{0};
  std::vector<Clock::time_point> start(threads), end(threads);
  if (cpu) cpu->assign(threads, 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      const double c0 = thread_cpu_seconds();
      start[t] = Clock::now();
      fn(t);
      end[t] = Clock::now();
      if (cpu) (*cpu)[t] = thread_cpu_seconds() - c0;
    });
  }
  for (auto& th : pool) th.join();
  Clock::time_point first = start[0], last = end[0];
  for (int t = 1; t < threads; ++t) {
    if (start[t] < first) first = start[t];
    if (end[t] > last) last = end[t];
  }
  return std::chrono::duration<double>(last - first).count();
}

// amount is the total over threads; each thread did amount / threads.
Napi::Object result(Napi::Env env, double seconds, const std::vector<double>& cpu, const char* key, double amount) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("seconds", seconds);
  o.Set(key, amount);
  double rate = 0;
  for (double c : cpu) rate += c > 0 ? amount / static_cast<double>(cpu.size()) / c : 0;
  o.Set("cpuRate", rate);
  return o;
}

Napi::Value ProbeRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  const int threads = static_cast<int>(int_arg(info, 1, "threads", 1, 256));
  const int64_t bytes = int_arg(info, 2, "bytesPerThread", 256, int64_t(1) << 34) & ~int64_t(255);
  const int64_t passes = int_arg(info, 3, "passes", 1, 1 << 20);
  std::vector<uint8_t*> bufs(threads, nullptr);
  for (auto& b : bufs) {
    b = static_cast<uint8_t*>(std::aligned_alloc(64, static_cast<size_t>(bytes)));
    if (!b) {
      for (auto* p : bufs) std::free(p);
      throw Napi::Error::New(env, "probeRead: out of memory allocating " + std::to_string(bytes) + " bytes per thread");
    }
  }
  std::vector<uint64_t> sink(threads);
  const auto read = KV_CPU_SELECT(isa, probe_read_cpu);
  // Touch every page on its own thread first, so the timed passes read resident memory.
  run_together(threads, [&](int t) { std::memset(bufs[t], t + 1, static_cast<size_t>(bytes)); });
  std::vector<double> cpu;
  const double seconds = run_together(threads, [&](int t) {
    uint64_t s = 0;
    for (int64_t p = 0; p < passes; ++p) {
      s ^= read(bufs[t], bytes);
    }
    sink[t] = s;
  }, &cpu);
  uint64_t all = 0;
  for (uint64_t v : sink) all ^= v;
  for (auto* p : bufs) std::free(p);
  Napi::Object o = result(env, seconds, cpu, "bytes", static_cast<double>(bytes) * passes * threads);
  o.Set("checksum", static_cast<double>(all & 0xffff));
  return o;
}

Napi::Value ProbeCompute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Isa isa = isa_arg(info, 0);
  if (info.Length() < 2 || !info[1].IsString()) throw TypeError(env, "kind: expected 'fma_f32' or 'dot_i8'");
  const std::string kind = info[1].As<Napi::String>().Utf8Value();
  if (kind != "fma_f32" && kind != "dot_i8") {
    throw Napi::RangeError::New(env, "kind: expected 'fma_f32' or 'dot_i8', got '" + kind + "'");
  }
  const int threads = static_cast<int>(int_arg(info, 2, "threads", 1, 256));
  const int64_t iterations = int_arg(info, 3, "iterations", 1, int64_t(1) << 40);
  const bool f32 = kind == "fma_f32";
  std::vector<double> sink(threads), cpu;
  const double seconds = run_together(threads, [&](int t) {
    sink[t] = f32 ? KV_CPU_SELECT(isa, probe_fma_f32_cpu)(iterations)
                  : static_cast<double>(KV_CPU_SELECT(isa, probe_dot_i8_cpu)(iterations));
  }, &cpu);
  const int64_t per_iter = f32 ? KV_CPU_SELECT(isa, probe_fma_f32_flops_per_iter)()
                               : KV_CPU_SELECT(isa, probe_dot_i8_ops_per_iter)();
  Napi::Object o = result(env, seconds, cpu, "ops", static_cast<double>(per_iter) * iterations * threads);
  o.Set("checksum", sink[0]);
  return o;
}

}  // namespace

void register_probe_bindings(Napi::Env env, Napi::Object ops) {
  ops.Set("probeRead", Napi::Function::New(env, ProbeRead));
  ops.Set("probeCompute", Napi::Function::New(env, ProbeCompute));
}

}  // namespace kv::napi
