// Optional per-op timing of one step (the `profile` flag of the step input): nanoseconds per op and
// per layer, measured with steady_clock between consecutive laps. Off, every lap is one predictable
// branch; nothing is allocated or read from the clock.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

namespace kv {

// Ops timed inside each layer, in forward order.
enum class LayerOp : int {
  AttnNorm, Q, K, V, QkNorm, Rope, KvWrite, Attention, O, AddNorm, Gate, Up, SiluMul, Down, Add, kCount
};
// Ops timed once per step.
enum class StepOp : int { KvCopy, Embedding, FinalNorm, LmHead, Sample, kCount };

inline const char* layer_op_name(int i) {
  static const char* const kNames[] = {"attn_norm", "q", "k", "v", "qk_norm", "rope", "kv_write", "attention",
                                       "o", "add_norm", "gate", "up", "silu_mul", "down", "add"};
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
    last_ = Clock::now();
  }
  bool on() const { return on_; }

  /** Charges the time since the previous lap to `op` of layer `layer`. */
  void lap(int64_t layer, LayerOp op) {
    if (on_) charge(layer_ns_[static_cast<size_t>(layer * kLayerOps + static_cast<int>(op))]);
  }
  void lap(StepOp op) {
    if (on_) charge(step_ns_[static_cast<size_t>(op)]);
  }

  const std::vector<double>& layer_ns() const { return layer_ns_; }  // [num_layers, kLayerOps]
  const std::vector<double>& step_ns() const { return step_ns_; }    // [kStepOps]

 private:
  using Clock = std::chrono::steady_clock;
  void charge(double& slot) {
    const Clock::time_point now = Clock::now();
    slot += std::chrono::duration<double, std::nano>(now - last_).count();
    last_ = now;
  }

  bool on_ = false;
  Clock::time_point last_;
  std::vector<double> layer_ns_, step_ns_;
};

}  // namespace kv
