// A persistent pool of compute threads. The calling thread (a libuv worker running one step) takes
// part as thread 0, so a pool of N threads uses N cores in all.
// Built for a shared machine, where any thread may lose its core for a time slice:
//   - work is claimed in chunks from one atomic counter, and the caller never waits for a worker to
//     show up: when the workers are late (descheduled, asleep), the caller runs every chunk itself and
//     returns; it waits only for chunks a worker has actually claimed;
//   - idle workers spin for a short, bounded time (kSpinMicros) and then sleep on a condition variable,
//     so they never hold a core that another process needs between steps;
//   - a compute thread yields its core every few hundred microseconds, so a thread that woke to stream
//     tokens (the JS thread, a client) runs within that time rather than after a whole time slice.
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
  /** fn(begin, end, thread_index) processes items [begin, end); thread_index < num_threads() names the
   * executing thread (for per-thread scratch), and no two concurrent calls share one. */
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  /**
   * Splits [0, n) into chunks of at least `grain` items and runs them on the pool's threads; returns
   * when every chunk is done. Must not be called concurrently from two threads, nor from inside fn.
   */
  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn);

  /** Runs fn(part, num_parts) once for each part in [0, num_threads), spread over the threads. */
  void run_on_all(const std::function<void(int, int)>& fn);

  /** How many chunks the workers (not the caller) ran since the pool was made: a bench statistic. */
  uint64_t chunks_by_workers() const { return chunks_by_workers_.load(std::memory_order_relaxed); }

 private:
  void worker_loop(int index);
  // Claims and runs chunks of the current job until none is left; returns the number it ran and
  // stores the generation of the job it found exhausted.
  int64_t run_chunks(int index, uint64_t* last_gen);

  int num_threads_;
  std::vector<std::thread> workers_;
  // Job word: generation (high 24 bits) | number of chunks (20 bits) | next chunk to claim (20 bits).
  // A claim is one fetch_add; it is valid when the chunk index is below the count. A late worker's
  // claim lands on whichever job is published, so it can never hold a chunk of a finished job.
  std::atomic<uint64_t> job_{0};
  std::atomic<int64_t> done_{0};  // chunks of the current job finished
  // Current job; written by the caller before the job word is published, read only after a valid claim.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
  // Sleeping workers.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> chunks_by_workers_{0};
};

}  // namespace kv
