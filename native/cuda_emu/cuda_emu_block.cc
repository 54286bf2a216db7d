// cuda_emu: one block on one OS thread. Every CUDA thread is a fiber. The scheduler repeatedly picks a
// runnable fiber and runs it to its next sync point: the lowest-numbered one (forward), the highest
// (reverse) or a random one. A barrier is released by the last live participant to arrive (or by the
// exit of the last one that was missing), and its waiters become runnable at once, so under forward
// order a warp released from a shuffle runs ahead of the warps that have not reached it yet: code that
// leans on a missing __syncthreads meets the other warps' stale data. No runnable fiber while some
// are alive is a deadlock: the report lists where each thread waits.
#include <algorithm>
#include <random>

#include "cuda_emu/cuda_emu_runtime.h"

namespace kvemu {

namespace {

uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void make_runnable(BlockRun& run, int i) {
  run.fibers[i].state = FiberState::Runnable;
  run.runnable[i >> 6] |= uint64_t{1} << (i & 63);
}

// The next fiber to run, removed from the runnable set; -1 when none is runnable.
int pick_runnable(BlockRun& run, Schedule schedule, std::mt19937_64& rng) {
  const int words = static_cast<int>(run.runnable.size());
  int chosen = -1;
  if (schedule == Schedule::Forward) {
    for (int w = 0; w < words && chosen < 0; ++w)
      if (run.runnable[w]) chosen = w * 64 + __builtin_ctzll(run.runnable[w]);
  } else if (schedule == Schedule::Reverse) {
    for (int w = words - 1; w >= 0 && chosen < 0; --w)
      if (run.runnable[w]) chosen = w * 64 + 63 - __builtin_clzll(run.runnable[w]);
  } else {
    int count = 0;
    for (uint64_t bits : run.runnable) count += __builtin_popcountll(bits);
    if (count > 0) {
      int k = static_cast<int>(rng() % static_cast<uint64_t>(count));
      for (int w = 0; w < words && chosen < 0; ++w) {
        const int c = __builtin_popcountll(run.runnable[w]);
        if (k >= c) {
          k -= c;
          continue;
        }
        uint64_t bits = run.runnable[w];
        for (; k > 0; --k) bits &= bits - 1;  // drop the k lowest set bits
        chosen = w * 64 + __builtin_ctzll(bits);
      }
    }
  }
  if (chosen >= 0) run.runnable[chosen >> 6] &= ~(uint64_t{1} << (chosen & 63));
  return chosen;
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::Sync: return "__syncwarp";
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
  }
  return "?";
}

std::string thread_name(const Fiber& f) {
  return "thread (" + std::to_string(f.tid.x) + "," + std::to_string(f.tid.y) + "," + std::to_string(f.tid.z) +
         ") of block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
         std::to_string(blockIdx.z) + ")";
}

BlockRun& current_run(const char* what) {
  if (!t_run || !t_fiber) fatal("%s called outside a kernel", what);
  return *t_run;
}

void release_block_barrier(BlockRun& run) {
  const Fiber* first = nullptr;
  for (Fiber& f : run.fibers) {
    if (f.state != FiberState::WaitBlock) continue;
    if (!first) {
      first = &f;
    } else if (f.wait_line != first->wait_line || std::strcmp(f.wait_file, first->wait_file) != 0) {
      fatal("threads of one block meet at different __syncthreads sites: %s at %s:%d, %s at %s:%d",
            thread_name(*first).c_str(), base_name(first->wait_file), first->wait_line, thread_name(f).c_str(),
            base_name(f.wait_file), f.wait_line);
    }
  }
  for (size_t i = 0; i < run.fibers.size(); ++i) {
    Fiber& f = run.fibers[i];
    if (f.state != FiberState::WaitBlock) continue;
    f.block_result = run.arrived_true;  // count; callers turn it into and/or
    f.block_total = run.arrived;
    make_runnable(run, static_cast<int>(i));
  }
  run.arrived = 0;
  run.arrived_true = 0;
}

void release_warp_slot(BlockRun& run, int warp, WarpSlot& s) {
  s.released = true;
  s.readers = __builtin_popcount(s.arrived);
  for (int lane = 0; lane < 32; ++lane) {
    if (s.arrived & (1u << lane)) make_runnable(run, warp * 32 + lane);
  }
}

// A participant left (exited): barriers that were only waiting for it can go.
void check_releases_after_exit(BlockRun& run, int warp) {
  if (run.arrived > 0 && run.arrived == run.alive) release_block_barrier(run);
  WarpState& w = run.warps[warp];
  for (WarpSlot& s : w.slots) {
    if (s.used && !s.released && s.arrived != 0 && (s.mask & w.alive) == s.arrived) release_warp_slot(run, warp, s);
  }
}

[[noreturn]] void report_deadlock(BlockRun& run) {
  std::fprintf(stderr, "cuda_emu: deadlock in kernel %s, block (%u,%u,%u): no thread can run. Waiting threads:\n",
               run.spec->name, blockIdx.x, blockIdx.y, blockIdx.z);
  int shown = 0;
  for (const Fiber& f : run.fibers) {
    if (f.state == FiberState::Done) continue;
    if (++shown > 40) {
      std::fprintf(stderr, "  ...\n");
      break;
    }
    std::fprintf(stderr, "  %s (warp %d lane %d): %s at %s:%d\n", thread_name(f).c_str(), f.warp, f.lane,
                 f.wait_what ? f.wait_what : "?", f.wait_file ? base_name(f.wait_file) : "?", f.wait_line);
  }
  fatal("deadlock");
}

}  // namespace

int block_sync(BlockOp op, int predicate, const char* file, int line) {
  BlockRun& run = current_run("__syncthreads");
  Fiber& f = *t_fiber;
  if (op == BlockOp::Sync) {
    note_sync_site(file, line);
    if (sync_site_dropped(file, line)) return 0;
  }
  f.state = FiberState::WaitBlock;
  f.wait_file = file;
  f.wait_line = line;
  f.wait_what = "__syncthreads";
  ++run.arrived;
  if (predicate) ++run.arrived_true;
  if (run.arrived == run.alive) release_block_barrier(run);
  yield_to_scheduler(false);
  f.wait_what = nullptr;
  switch (op) {
    case BlockOp::Count: return f.block_result;
    case BlockOp::And: return f.block_result == f.block_total ? 1 : 0;
    case BlockOp::Or: return f.block_result > 0 ? 1 : 0;
    default: return 0;
  }
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line) {
  BlockRun& run = current_run(op_name(op));
  Fiber& f = *t_fiber;
  WarpState& w = run.warps[f.warp];
  const unsigned bit = 1u << f.lane;
  if (!(mask & bit)) {
    fatal("%s at %s:%d: %s (lane %d) is not in its mask 0x%08x", op_name(op), base_name(file), line,
          thread_name(f).c_str(), f.lane, mask);
  }
  if (mask & ~w.exists) {
    fatal("%s at %s:%d: mask 0x%08x names lanes that do not exist (warp %d of a %u-thread block has 0x%08x)",
          op_name(op), base_name(file), line, mask, f.warp, blockDim.x * blockDim.y * blockDim.z, w.exists);
  }
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    fatal("%s at %s:%d: width %d is not a power of two in [1, 32]", op_name(op), base_name(file), line, width);
  }
  int si = -1;
  for (int i = 0; i < kWarpSlots; ++i) {
    if (w.slots[i].used && !w.slots[i].released && w.slots[i].mask == mask) si = i;
  }
  if (si < 0) {
    for (int i = 0; i < kWarpSlots && si < 0; ++i) {
      if (!w.slots[i].used) si = i;
    }
    if (si < 0) fatal("%s at %s:%d: more than %d warp collectives in flight in warp %d", op_name(op), base_name(file), line, kWarpSlots, f.warp);
    WarpSlot& s = w.slots[si];
    s.used = true;
    s.released = false;
    s.mask = mask;
    s.arrived = 0;
    s.op = op;
    s.file = file;
    s.line = line;
  } else {
    const WarpSlot& s = w.slots[si];
    if (s.op != op || s.line != line || std::strcmp(s.file, file) != 0) {
      fatal("lanes of warp %d (mask 0x%08x) meet at different sites: %s at %s:%d and %s at %s:%d", f.warp, mask,
            op_name(s.op), base_name(s.file), s.line, op_name(op), base_name(file), line);
    }
  }
  WarpSlot& s = w.slots[si];
  s.vals[f.lane] = value;
  s.arrived |= bit;
  f.state = FiberState::WaitWarp;
  f.warp_slot = si;
  f.wait_file = file;
  f.wait_line = line;
  f.wait_what = op_name(op);
  if ((mask & w.alive) == s.arrived) release_warp_slot(run, f.warp, s);
  yield_to_scheduler(false);
  f.wait_what = nullptr;

  uint64_t result = 0;
  const int lane = f.lane;
  switch (op) {
    case WarpOp::Sync: break;
    case WarpOp::Ballot:
    case WarpOp::Any:
    case WarpOp::All: {
      unsigned ballot = 0;
      for (int l = 0; l < 32; ++l) {
        if ((s.arrived & (1u << l)) && s.vals[l]) ballot |= 1u << l;
      }
      result = op == WarpOp::Ballot ? ballot : op == WarpOp::Any ? (ballot != 0) : (ballot == s.arrived);
      break;
    }
    default: {
      // PTX shfl.sync: c = ((32 - width) << 8) | clamp, clamp = 0 for up and 31 otherwise.
      const int segmask = (32 - width) & 31;
      const int clamp = op == WarpOp::ShflUp ? 0 : 31;
      const int min_lane = lane & segmask;
      const int max_lane = min_lane | (clamp & ~segmask);
      int j = lane;
      bool in_range = true;
      switch (op) {
        case WarpOp::ShflUp: j = lane - arg; in_range = j >= max_lane; break;
        case WarpOp::ShflDown: j = lane + arg; in_range = j <= max_lane; break;
        case WarpOp::ShflXor: j = lane ^ arg; in_range = j <= max_lane; break;
        default: j = min_lane | (arg & ~segmask & 31); in_range = j <= max_lane; break;
      }
      if (!in_range) j = lane;
      if (j < 0 || j > 31 || !(s.arrived & (1u << j))) {
        fatal("%s at %s:%d: %s (lane %d) reads lane %d, which did not take part (exited or outside mask 0x%08x)",
              op_name(op), base_name(file), line, thread_name(f).c_str(), lane, j, mask);
      }
      result = s.vals[j];
      break;
    }
  }
  if (--s.readers == 0) s.used = false;
  f.warp_slot = -1;
  return result;
}

unsigned active_mask() {
  BlockRun& run = current_run("__activemask");
  return run.warps[t_fiber->warp].alive;
}

void fiber_exit() {
  BlockRun& run = *t_run;
  Fiber& f = *t_fiber;
  f.state = FiberState::Done;
  --run.alive;
  run.warps[f.warp].alive &= ~(1u << f.lane);
  check_releases_after_exit(run, f.warp);
  yield_to_scheduler(true);
  fatal("a finished fiber was resumed");
}

void run_block(const LaunchSpec& spec, void (*thunk)(void*), void* ctx, uint64_t launch_index, uint64_t block) {
  thread_local BlockRun run;
  const dim3 g = spec.grid, b = spec.block;
  blockIdx = uint3{static_cast<unsigned>(block % g.x), static_cast<unsigned>(block / g.x % g.y),
                   static_cast<unsigned>(block / (uint64_t{g.x} * g.y))};
  blockDim = b;
  gridDim = g;
  const int n = static_cast<int>(b.x * b.y * b.z);
  run.spec = &spec;
  run.thunk = thunk;
  run.ctx = ctx;
  run.fibers.assign(static_cast<size_t>(n), Fiber());
  run.warps.resize(static_cast<size_t>((n + 31) / 32));
  for (WarpState& w : run.warps) {
    w.exists = 0;
    for (WarpSlot& s : w.slots) s.used = false;
  }
  run.alive = n;
  run.arrived = run.arrived_true = 0;
  for (int i = 0; i < n; ++i) {
    Fiber& f = run.fibers[i];
    f.tid = uint3{static_cast<unsigned>(i % b.x), static_cast<unsigned>(i / b.x % b.y),
                  static_cast<unsigned>(i / (b.x * b.y))};
    f.warp = i / 32;
    f.lane = i % 32;
    f.stack = acquire_stack();
    init_fiber_stack(f);
    run.warps[f.warp].exists |= 1u << f.lane;
  }
  for (WarpState& w : run.warps) w.alive = w.exists;
  prepare_dynamic_shared(spec.smem);

  uint64_t seed = 0;
  const Schedule schedule = current_schedule(&seed);
  std::mt19937_64 rng(mix64(seed ^ mix64(launch_index * 0x100000001b3ull + block)));
  run.runnable.assign(static_cast<size_t>((n + 63) / 64), 0);
  for (int i = 0; i < n; ++i) run.runnable[i >> 6] |= uint64_t{1} << (i & 63);

  t_run = &run;
  while (run.alive > 0) {
    const int i = pick_runnable(run, schedule, rng);
    if (i < 0) report_deadlock(run);
    Fiber& f = run.fibers[i];
    switch_to_fiber(run, f);
    // A fiber that released a barrier it waits at itself yields while runnable: it goes back in the set.
    if (f.state == FiberState::Runnable) run.runnable[i >> 6] |= uint64_t{1} << (i & 63);
  }
  t_run = nullptr;
  for (Fiber& f : run.fibers) release_stack(f.stack);
}

}  // namespace kvemu
