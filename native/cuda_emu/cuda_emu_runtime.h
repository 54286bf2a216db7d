// cuda_emu internals shared by cuda_emu.cc (configuration, stacks, fibers, workers, launches),
// cuda_emu_block.cc (one block: scheduler, barriers, warp collectives) and cuda_emu_api.cc (memory,
// streams, errors). Not for kernel code.
#pragma once
#include <cstdarg>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "cuda_emu/cuda_emu.h"

namespace kvemu {

struct Config {
  Schedule schedule = Schedule::Forward;
  uint64_t seed = 1;
  int workers = 1;
  size_t stack_bytes = 256 * 1024;
  std::string drop_file;  // base name of the __syncthreads site to skip, or empty
  int drop_line = -1;
  std::string sites_out;
};
const Config& config();
Schedule current_schedule(uint64_t* seed);

[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
const char* base_name(const char* path);

void note_sync_site(const char* file, int line);
bool sync_site_dropped(const char* file, int line);
/** The __syncthreads sites ("<file>:<line>") that have run in this process. */
std::vector<std::string> visited_sync_sites();

void prepare_dynamic_shared(size_t bytes);

struct Stack {
  void* map = nullptr;  // whole mapping, guard page first
  size_t map_bytes = 0;
  char* lo = nullptr;  // usable range [lo, lo + size)
  size_t size = 0;
};
Stack acquire_stack();
void release_stack(const Stack& s);

enum class FiberState : uint8_t { Runnable, WaitBlock, WaitWarp, Done };

struct Fiber {
  void* sp = nullptr;
  Stack stack;
  FiberState state = FiberState::Runnable;
  uint3 tid{0, 0, 0};
  int warp = 0, lane = 0;
  int block_result = 0, block_total = 0;  // last block barrier: nonzero predicates, participants
  int warp_slot = -1;
  const char* wait_file = nullptr;  // where it waits, for reports
  int wait_line = 0;
  const char* wait_what = nullptr;
  void* asan_fake = nullptr;
};

// One warp collective in progress: lanes arrive (collecting), then read their results (released).
// Two may exist per mask at once (one draining while the next collects): double-buffered slots.
struct WarpSlot {
  bool used = false, released = false;
  unsigned mask = 0, arrived = 0;
  int readers = 0;
  WarpOp op = WarpOp::Sync;
  const char* file = nullptr;
  int line = 0;
  uint64_t vals[32];
};
constexpr int kWarpSlots = 8;

struct WarpState {
  unsigned exists = 0, alive = 0;
  WarpSlot slots[kWarpSlots];
};

struct BlockRun {
  const LaunchSpec* spec = nullptr;
  void (*thunk)(void*) = nullptr;
  void* ctx = nullptr;
  std::vector<Fiber> fibers;
  std::vector<WarpState> warps;
  std::vector<uint64_t> runnable;  // bit i: fiber i may run
  int alive = 0;
  int arrived = 0, arrived_true = 0;  // block barrier: waiting threads, and how many with a nonzero predicate
  void* sched_sp = nullptr;
  void* sched_fake = nullptr;
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
};

extern thread_local BlockRun* t_run;
extern thread_local Fiber* t_fiber;

void init_fiber_stack(Fiber& f);
void switch_to_fiber(BlockRun& run, Fiber& f);
void yield_to_scheduler(bool exiting);
[[noreturn]] void fiber_exit();

/** Runs block number `block` (linear) of a launch on the calling OS thread. */
void run_block(const LaunchSpec& spec, void (*thunk)(void*), void* ctx, uint64_t launch_index, uint64_t block);

void set_last_error(cudaError_t e);

}  // namespace kvemu
