#include "thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define KV_CPU_RELAX() _mm_pause()
#else
#define KV_CPU_RELAX() ((void)0)
#endif

namespace kv {

namespace {

using Clock = std::chrono::steady_clock;

// Idle workers spin this long before sleeping: a step issues its ops back to back (gaps of a few
// microseconds), while between steps the JS thread runs and a spinning worker would only take a core.
constexpr auto kSpinMicros = std::chrono::microseconds(50);

constexpr int kGenShift = 40, kCountShift = 20;
constexpr uint64_t kFieldMask = (uint64_t(1) << 20) - 1;
constexpr int64_t kMaxChunks = int64_t(1) << 16;  // leaves headroom in the 20-bit claim field for late claims

uint64_t gen_of(uint64_t word) { return word >> kGenShift; }
int64_t count_of(uint64_t word) { return static_cast<int64_t>((word >> kCountShift) & kFieldMask); }
int64_t next_of(uint64_t word) { return static_cast<int64_t>(word & kFieldMask); }

// A compute thread gives its core away at most this often (at the start of a job or a parallel op),
// if another thread is waiting for it. On a machine with as many compute threads as cores, the JS
// thread that streams tokens and the clients reading them otherwise wait for the scheduler's time
// slice to run out (~3-4 ms, most of a decode step), which shows as inter-token latency spikes.
// Costs one syscall per thread per period when nothing else waits.
constexpr auto kYieldPeriod = std::chrono::microseconds(300);

void yield_if_due() {
  thread_local Clock::time_point last;
  const Clock::time_point now = Clock::now();
  if (now - last < kYieldPeriod) return;
  last = now;
  std::this_thread::yield();  // sched_yield
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t ThreadPool::run_chunks(int index, uint64_t* last_gen) {
  int64_t ran = 0;
  for (;;) {
    const uint64_t word = job_.fetch_add(1, std::memory_order_acq_rel);
    const int64_t c = next_of(word);
    if (c >= count_of(word)) {  // the job has no chunk left
      *last_gen = gen_of(word);
      return ran;
    }
    // A valid claim (of whichever job is current) keeps that job open, so fn_, n_ and chunk_ stay
    // as published while the chunk runs.
    const int64_t begin = c * chunk_;
    (*fn_)(begin, std::min(n_, begin + chunk_), index);
    ++ran;
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;  // generation of the last job this worker found exhausted
  for (;;) {
    const Clock::time_point spin_until = Clock::now() + kSpinMicros;
    int polls = 0;
    while (gen_of(job_.load(std::memory_order_acquire)) == seen && !stop_.load(std::memory_order_relaxed)) {
      KV_CPU_RELAX();
      if ((++polls & 63) == 0 && Clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return stop_.load() || gen_of(job_.load(std::memory_order_seq_cst)) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
    if (stop_.load()) return;
    yield_if_due();
    const int64_t ran = run_chunks(index, &seen);
    if (ran) chunks_by_workers_.fetch_add(static_cast<uint64_t>(ran), std::memory_order_relaxed);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const RangeFn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (num_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  // About 4 chunks per thread balances uneven rows without much atomic traffic.
  const int64_t target = (n + num_threads_ * 4 - 1) / (num_threads_ * 4);
  int64_t chunk = std::max(grain, target);
  if ((n + chunk - 1) / chunk > kMaxChunks) chunk = (n + kMaxChunks - 1) / kMaxChunks;
  const int64_t count = (n + chunk - 1) / chunk;
  yield_if_due();
  fn_ = &fn;
  n_ = n;
  chunk_ = chunk;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = gen_of(job_.load(std::memory_order_relaxed)) + 1;
  job_.store((gen << kGenShift) | (static_cast<uint64_t>(count) << kCountShift), std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mutex_);  // a sleeper checks the job word under this lock
    wake_.notify_all();
  }
  uint64_t last_gen = 0;
  run_chunks(0, &last_gen);
  // Only chunks a worker claimed remain; wait for them, yielding the core if that worker lost its own.
  int polls = 0;
  while (done_.load(std::memory_order_acquire) != count) {
    KV_CPU_RELAX();
    if (++polls > 256) std::this_thread::yield();
  }
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
  const int t = num_threads_;
  parallel_for(t, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) fn(static_cast<int>(i), t);
  });
}

}  // namespace kv
