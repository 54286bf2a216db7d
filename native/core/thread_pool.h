// A persistent pool of compute threads. The calling thread (a libuv worker running one step) takes
// part as thread 0, so a pool of N threads uses N cores in all. Idle workers spin briefly, then sleep
// on a condition variable: they never burn a core that another process needs.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kv {

class ThreadPool {
 public:
  /** fn(begin, end, thread_index) processes items [begin, end). */
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  /**
   * Splits [0, n) into chunks of at least `grain` items and runs them on all threads; returns when
   * every chunk is done. Must not be called concurrently from two threads, nor from inside fn.
   */
  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn);

  /** Runs fn(part, num_parts) once for each part in [0, num_threads), spread over the threads. */
  void run_on_all(const std::function<void(int, int)>& fn);

 private:
  void worker_loop(int index);
  void run_job(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int64_t> next_{0};
  bool stop_ = false;
  // Current job.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
};

}  // namespace kv
