// Optional per-op timing of one step (the `profile` flag of the step input): nanoseconds per op and
// per layer between consecutive laps, as wall time (steady_clock) and as the calling thread's CPU
// time (CLOCK_THREAD_CPUTIME_ID: on a shared machine the wall time also holds the time other
// processes had the core). Off, every lap is one predictable branch; no clock is read.
#pragma once
#include <chrono>
#include <cstdint>
#include <ctime>
#include <vector>

namespace kv {

// Ops timed inside each layer, in forward order. Fused ops are timed as one: qkv holds the residual
// add and attn_norm before it, gate_up the residual add and ffn_norm, down the silu_mul.
enum class LayerOp : int { Qkv, QkNorm, RopeKvWrite, Attention, O, GateUp, Down, kCount };
// Ops timed once per step.
// final_norm holds the last layer's residual add.
enum class StepOp : int { KvCopy, Embedding, FinalNorm, LmHead, Sample, kCount };

inline const char* layer_op_name(int i) {
  static const char* const kNames[] = {"qkv", "qk_norm", "rope_kv_write", "attention", "o", "gate_up", "down"};
  return kNames[i];
}
inline const char* step_op_name(int i) {
  static const char* const kNames[] = {"kv_copy", "embedding", "final_norm", "lm_head", "sample"};
  return kNames[i];
}

class StepProfile {
 public:
  static constexpr int kLayerOps = static_cast<int>(LayerOp::kCount);
  static constexpr int kStepOps = static_cast<int>(StepOp::kCount);

  /** Starts a profiled step (clears the previous figures) or turns profiling off. */
  void start(bool on, int64_t num_layers) {
    on_ = on;
    if (!on) return;
    layer_ns_.assign(static_cast<size_t>(num_layers * kLayerOps), 0.0);
    step_ns_.assign(kStepOps, 0.0);
    layer_cpu_ns_.assign(layer_ns_.size(), 0.0);
    step_cpu_ns_.assign(kStepOps, 0.0);
    last_ = Clock::now();
    last_cpu_ = cpu_ns();
  }
  bool on() const { return on_; }

  /** Charges the time since the previous lap to `op` of layer `layer`. */
  void lap(int64_t layer, LayerOp op) {
    if (!on_) return;
    const size_t i = static_cast<size_t>(layer * kLayerOps + static_cast<int>(op));
    charge(layer_ns_[i], layer_cpu_ns_[i]);
  }
  void lap(StepOp op) {
    if (on_) charge(step_ns_[static_cast<size_t>(op)], step_cpu_ns_[static_cast<size_t>(op)]);
  }

  const std::vector<double>& layer_ns() const { return layer_ns_; }  // [num_layers, kLayerOps]
  const std::vector<double>& step_ns() const { return step_ns_; }    // [kStepOps]
  const std::vector<double>& layer_cpu_ns() const { return layer_cpu_ns_; }
  const std::vector<double>& step_cpu_ns() const { return step_cpu_ns_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return 1e9 * static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec);
  }
  void charge(double& slot, double& cpu_slot) {
    const Clock::time_point now = Clock::now();
    const double cpu = cpu_ns();
    slot += std::chrono::duration<double, std::nano>(now - last_).count();
    cpu_slot += cpu - last_cpu_;
    last_ = now;
    last_cpu_ = cpu;
  }

  bool on_ = false;
  Clock::time_point last_;
  double last_cpu_ = 0;
  std::vector<double> layer_ns_, step_ns_, layer_cpu_ns_, step_cpu_ns_;
};

}  // namespace kv
