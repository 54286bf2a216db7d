// cuda_emu runtime: worker threads that run blocks, one fiber per CUDA thread, block and warp barriers,
// and the scheduler that orders fibers (see cuda_emu.h for the model). Configuration, from the
// environment, read once:
//   KV_EMU_SCHEDULE  forward | reverse | random (default forward)   KV_EMU_SEED  random-order seed (1)
//   KV_EMU_WORKERS   worker threads (default min(4, cores))          KV_EMU_STACK_KB  fiber stack (256)
//   KV_EMU_DROP_SYNC <file>:<line>: that __syncthreads site does not wait (negative tests)
//   KV_EMU_SITES_OUT <path>: at exit, write the __syncthreads sites that ran, one "<file>:<line>" a line
#include "cuda_emu/cuda_emu_runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
#define KVEMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KVEMU_ASAN 1
#endif
#endif
#ifndef KVEMU_ASAN
#define KVEMU_ASAN 0
#endif
#if KVEMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// The dynamic shared memory array kvserve's kernels declare (extern __shared__ ... kv_smem[]).
KV_EMU_DYNAMIC_SHARED(unsigned char, kv_smem)

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the
// stack pointer in *save_sp, loads load_sp and restores the same from there (System V x86-64).
extern "C" void kvemu_switch_context(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl kvemu_switch_context
  .type kvemu_switch_context, @function
  .p2align 4
kvemu_switch_context:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kvemu_switch_context, .-kvemu_switch_context
)");

namespace kvemu {

// ---- configuration ----

const Config& config() {
  static const Config c = [] {
    Config x;
    if (const char* s = std::getenv("KV_EMU_SCHEDULE")) {
      const std::string v = s;
      if (v == "forward") x.schedule = Schedule::Forward;
      else if (v == "reverse") x.schedule = Schedule::Reverse;
      else if (v == "random") x.schedule = Schedule::Random;
      else fatal("KV_EMU_SCHEDULE: expected forward, reverse or random, got '%s'", s);
    }
    if (const char* s = std::getenv("KV_EMU_SEED")) x.seed = std::strtoull(s, nullptr, 10);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    x.workers = static_cast<int>(std::min(4u, cores));
    if (const char* s = std::getenv("KV_EMU_WORKERS")) x.workers = std::max(1, std::atoi(s));
    x.stack_bytes = (KVEMU_ASAN ? 1024 : 256) * 1024;
    if (const char* s = std::getenv("KV_EMU_STACK_KB")) x.stack_bytes = static_cast<size_t>(std::max(16, std::atoi(s))) * 1024;
    if (const char* s = std::getenv("KV_EMU_DROP_SYNC")) {
      const std::string v = s;
      const size_t colon = v.rfind(':');
      if (colon == std::string::npos) fatal("KV_EMU_DROP_SYNC: expected <file>:<line>, got '%s'", s);
      x.drop_file = v.substr(0, colon);
      x.drop_line = std::atoi(v.c_str() + colon + 1);
    }
    if (const char* s = std::getenv("KV_EMU_SITES_OUT")) x.sites_out = s;
    return x;
  }();
  return c;
}

namespace {
std::atomic<int> g_schedule_override{-1};
std::atomic<uint64_t> g_seed_override{0};
}  // namespace

void set_schedule(Schedule schedule, uint64_t seed) {
  g_seed_override.store(seed);
  g_schedule_override.store(static_cast<int>(schedule));
}

void reset_schedule() { g_schedule_override.store(-1); }

Schedule current_schedule(uint64_t* seed) {
  const int o = g_schedule_override.load();
  if (o >= 0) {
    *seed = g_seed_override.load();
    return static_cast<Schedule>(o);
  }
  *seed = config().seed;
  return config().schedule;
}

[[noreturn]] void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("cuda_emu: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::fflush(stderr);
  std::abort();
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// ---- sync sites (for KV_EMU_DROP_SYNC / KV_EMU_SITES_OUT) ----

namespace {
std::mutex g_sites_mutex;
std::set<std::string>* g_sites = nullptr;

void write_sites() {
  const std::string& path = config().sites_out;
  if (path.empty() || !g_sites) return;
  if (FILE* f = std::fopen(path.c_str(), "w")) {
    for (const std::string& s : *g_sites) std::fprintf(f, "%s\n", s.c_str());
    std::fclose(f);
  }
}
}  // namespace

void note_sync_site(const char* file, int line) {
  thread_local std::unordered_set<uint64_t> seen;
  const uint64_t key = reinterpret_cast<uintptr_t>(file) * 1000003u + static_cast<uint64_t>(line);
  if (!seen.insert(key).second) return;
  std::lock_guard<std::mutex> lock(g_sites_mutex);
  if (!g_sites) {
    g_sites = new std::set<std::string>();
    std::atexit(write_sites);
  }
  g_sites->insert(std::string(base_name(file)) + ":" + std::to_string(line));
}

std::vector<std::string> visited_sync_sites() {
  std::lock_guard<std::mutex> lock(g_sites_mutex);
  return g_sites ? std::vector<std::string>(g_sites->begin(), g_sites->end()) : std::vector<std::string>();
}

bool sync_site_dropped(const char* file, int line) {
  const Config& c = config();
  return line == c.drop_line && !c.drop_file.empty() && c.drop_file == base_name(file);
}

// ---- dynamic shared memory buffers ----

std::vector<void* (*)()>& dynamic_shared_buffers() {
  static std::vector<void* (*)()> v;
  return v;
}

DynamicSharedRegistration::DynamicSharedRegistration(void* (*address)()) { dynamic_shared_buffers().push_back(address); }

// Fills the first `bytes` of each buffer with 0xff (a NaN in f32, f16 and bf16) and, under ASan,
// poisons the rest, so reads of unwritten or out-of-range shared memory show.
void prepare_dynamic_shared(size_t bytes) {
  for (void* (*address)() : dynamic_shared_buffers()) {
    unsigned char* p = static_cast<unsigned char*>(address());
#if KVEMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, kMaxDynamicSharedBytes);
#endif
    std::memset(p, 0xff, bytes);
#if KVEMU_ASAN
    const size_t start = (bytes + 7) & ~size_t(7);
    if (start < kMaxDynamicSharedBytes) ASAN_POISON_MEMORY_REGION(p + start, kMaxDynamicSharedBytes - start);
#endif
  }
}

// ---- fiber stacks ----

namespace {

struct StackPool {
  std::vector<Stack> free;
  ~StackPool() {
    for (Stack& s : free) munmap(s.map, s.map_bytes);
  }
};
thread_local StackPool t_stacks;

}  // namespace

Stack acquire_stack() {
  if (!t_stacks.free.empty()) {
    Stack s = t_stacks.free.back();
    t_stacks.free.pop_back();
#if KVEMU_ASAN
    // Frames of the fiber that used it last have returned; clear any stale poison near the top.
    const size_t top = std::min<size_t>(s.size, 64 * 1024);
    ASAN_UNPOISON_MEMORY_REGION(s.lo + s.size - top, top);
#endif
    return s;
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = (config().stack_bytes + page - 1) / page * page;
  void* map = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) fatal("mmap of a %zu-byte fiber stack failed", size + page);
  if (mprotect(map, page, PROT_NONE) != 0) fatal("mprotect of a fiber stack guard page failed");
  Stack s;
  s.map = map;
  s.map_bytes = size + page;
  s.lo = static_cast<char*>(map) + page;
  s.size = size;
  return s;
}

void release_stack(const Stack& s) { t_stacks.free.push_back(s); }

// ---- fibers ----

thread_local BlockRun* t_run = nullptr;
thread_local Fiber* t_fiber = nullptr;

namespace {

#if KVEMU_ASAN
void asan_start_switch(void** fake_save, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_save, bottom, size);
}
void asan_finish_switch(void* fake, const void** bottom_old, size_t* size_old) {
  __sanitizer_finish_switch_fiber(fake, bottom_old, size_old);
}
#else
void asan_start_switch(void**, const void*, size_t) {}
void asan_finish_switch(void*, const void**, size_t*) {}
#endif

[[noreturn]] void fiber_main() {
  BlockRun* run = t_run;
  asan_finish_switch(nullptr, &run->sched_bottom, &run->sched_size);
  run->thunk(run->ctx);
  fiber_exit();
}

}  // namespace

void init_fiber_stack(Fiber& f) {
  uintptr_t top = reinterpret_cast<uintptr_t>(f.stack.lo + f.stack.size) & ~uintptr_t(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top);
  *--sp = 0;                                             // fiber_main's return address: it never returns
  *--sp = reinterpret_cast<uint64_t>(&fiber_main);       // where the first switch "returns" to
  for (int i = 0; i < 6; ++i) *--sp = 0;                 // rbp rbx r12 r13 r14 r15
  uint32_t csr[2];
  asm volatile("stmxcsr %0" : "=m"(csr[0]));
  asm volatile("fnstcw %0" : "=m"(csr[1]));
  --sp;
  std::memcpy(sp, csr, 8);
  f.sp = sp;
}

void switch_to_fiber(BlockRun& run, Fiber& f) {
  t_fiber = &f;
  threadIdx = f.tid;
  asan_start_switch(&run.sched_fake, f.stack.lo, f.stack.size);
  kvemu_switch_context(&run.sched_sp, f.sp);
  asan_finish_switch(run.sched_fake, nullptr, nullptr);
  t_fiber = nullptr;
}

void yield_to_scheduler(bool exiting) {
  Fiber* f = t_fiber;
  BlockRun* run = t_run;
  asan_start_switch(exiting ? nullptr : &f->asan_fake, run->sched_bottom, run->sched_size);
  kvemu_switch_context(&f->sp, run->sched_sp);
  asan_finish_switch(f->asan_fake, &run->sched_bottom, &run->sched_size);
}

// ---- worker pool ----

namespace {

struct Job {
  const LaunchSpec* spec;
  void (*thunk)(void*);
  void* ctx;
  uint64_t launch_index;
  uint64_t total_blocks;
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
};

void run_blocks(Job& job) {
  for (uint64_t b; (b = job.next.fetch_add(1)) < job.total_blocks;) {
    run_block(*job.spec, job.thunk, job.ctx, job.launch_index, b);
    job.done.fetch_add(1);
  }
}

class WorkerPool {
 public:
  explicit WorkerPool(int helpers) {
    for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void run(Job& job) {
    if (threads_.empty() || job.total_blocks == 1) {
      run_blocks(job);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    run_blocks(job);  // the launching thread works too
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return busy_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || (job_ && generation_ != seen); });
        if (stop_) return;
        seen = generation_;
        job = job_;
        ++busy_;
      }
      run_blocks(*job);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --busy_;
      }
      finished_.notify_all();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
};

WorkerPool& pool() {
  static WorkerPool* p = new WorkerPool(config().workers - 1);  // never destroyed: workers may outlive statics
  return *p;
}

std::atomic<uint64_t> g_launches{0};
std::mutex g_attr_mutex;
std::map<const void*, size_t>* g_max_dynamic_smem = nullptr;

}  // namespace

cudaError_t set_func_attribute(const void* fn, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<size_t>(value) > kMaxDynamicSharedBytes) {
    return cudaErrorInvalidValue;
  }
  std::lock_guard<std::mutex> lock(g_attr_mutex);
  if (!g_max_dynamic_smem) g_max_dynamic_smem = new std::map<const void*, size_t>();
  (*g_max_dynamic_smem)[fn] = static_cast<size_t>(value);
  return cudaSuccess;
}

size_t max_dynamic_smem(const void* fn) {
  std::lock_guard<std::mutex> lock(g_attr_mutex);
  if (g_max_dynamic_smem) {
    auto it = g_max_dynamic_smem->find(fn);
    if (it != g_max_dynamic_smem->end()) return std::max(it->second, kDefaultDynamicSharedBytes);
  }
  return kDefaultDynamicSharedBytes;
}

void run_launch(const LaunchSpec& spec, void (*thunk)(void*), void* ctx) {
  const dim3 g = spec.grid, b = spec.block;
  const uint64_t threads = uint64_t{b.x} * b.y * b.z;
  if (threads == 0 || threads > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64 || g.x == 0 || g.y == 0 || g.z == 0 ||
      g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
    set_last_error(cudaErrorInvalidConfiguration);
    return;
  }
  if (spec.smem > max_dynamic_smem(spec.fn)) {
    set_last_error(cudaErrorInvalidValue);
    return;
  }
  Job job;
  job.spec = &spec;
  job.thunk = thunk;
  job.ctx = ctx;
  job.launch_index = g_launches.fetch_add(1);
  job.total_blocks = uint64_t{g.x} * g.y * g.z;
  pool().run(job);
}

}  // namespace kvemu
