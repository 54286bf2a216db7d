// matmul: out[i, r] = sum_k x[i, k] * W[r, k] (+ bias[r])  — a linear layer, W stored as in GGUF/safetensors.
//   out  [m, N] f32 row-major (must not alias x)
//   x    [m, K] f32 row-major
//   w    WeightView [rows = N, cols = K] of any DType; K is a multiple of the dtype's block size
//        (32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K); callers guarantee it (bindings call matmul_check_shape)
//   bias [N] f32 or nullptr
// Numerics mirror llama.cpp's CPU backend (x86 build), so models give llama.cpp's greedy tokens:
//   F32   plain f32 dot products.
//   F16   x rounded to f16 (RNE) first, then f16 x f16 products accumulated in f32.
//   BF16  x rounded to bf16 (RNE) first, then accumulated in f32.
//   Q8_0, Q4_0  x quantized to Q8_0 blocks as ggml's x86 quantize_row_q8_0 does (d = amax/127 stored
//         as fp16, q = round-half-even(x * 127/amax)); per block fp16(d_w)*fp16(d_x) * exact int dot.
//   Q4_K, Q6_K  x quantized to Q8_K (quantize_row_q8_K_ref); ggml's vec_dot_q4_K_q8_K / q6_K_q8_K math
//         with exact integer sub-block dots, mins folded in through the Q8_K bsums.
// Work is split over N (each weight row is read once per call and reused for all m rows of x); the
// activations are converted/quantized once per call into `scratch`.
//
// Packed weights: a variant may read a weight in its own layout, made once at load by matmul_pack
// into a buffer of matmul_packed_bytes(w) bytes (64-byte aligned) and given as w.packed. Today the
// AVX-512 variant packs Q8_0 and Q4_0 (16-row groups in vpdpbusd order, matmul_packed_q_cpu.cc) and
// F32 / F16 / BF16 (64-row panels, k-major, for outer products, matmul_packed_f_cpu.cc): the same
// products as above, each output one lane's fixed sequence whatever m is (batch invariant). Float
// sums run over k in order instead of ggml's vector lanes, so they round differently in the last
// bits. Other variants and types report 0 bytes and read the original layout.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/isa.h"
#include "core/scratch.h"
#include "core/thread_pool.h"
#include "core/weight.h"

KV_DECLARE_CPU_KERNEL(void matmul_cpu(float* out, const float* x, const WeightView& w, const float* bias,
                                      int64_t m, ThreadPool& pool, Scratch& scratch))
// Several products of one x (q/k/v, gate/up): x is converted once and the products share one pass
// over the pool. All weights must satisfy matmul_can_share with each other; outs[i] is [m, ws[i]->rows].
KV_DECLARE_CPU_KERNEL(void matmul_multi_cpu(float* const* outs, const float* x, const WeightView* const* ws,
                                            const float* const* biases, int count, int64_t m, ThreadPool& pool,
                                            Scratch& scratch))
// Fused input ops (matmul_prologue_cpu): the product's input rows are made from x one row at a time
// in a row of working memory and converted from there, so they are never stored in full:
//   RmsNorm: x_i += add_i first when `add` is set (written back: x is the residual stream), then the
//            input row is rms_norm(x_i) * norm_weight (as rms_norm_cpu);
//   SiluMul: the input row is silu(x_i) * up_i (as silu_mul_cpu); x is not written.
// Each input row equals what the separate ops give, so the products equal theirs bit for bit.
namespace kv {
struct MatmulPrologue {
  enum class Kind { RmsNorm, SiluMul };
  Kind kind = Kind::RmsNorm;
  const float* add = nullptr;          // RmsNorm: [m, k] added to x first, or nullptr
  const float* norm_weight = nullptr;  // RmsNorm: [k]
  float eps = 0.f;                     // RmsNorm
  const float* up = nullptr;           // SiluMul: [m, k]
};
}  // namespace kv
// outs[i][m, ws[i].rows] = prologue(x)[m, cols] @ ws[i]^T (+ biases[i]) for i < count; the weights
// must share (matmul_can_share). `add` / `up` must not alias outs.
KV_DECLARE_CPU_KERNEL(void matmul_prologue_cpu(float* const* outs, float* x, const MatmulPrologue& prologue,
                                               const WeightView* const* ws, const float* const* biases, int count,
                                               int64_t m, ThreadPool& pool, Scratch& scratch))
// Bytes of the packed copy of w for this variant; 0 = this variant reads w unpacked.
KV_DECLARE_CPU_KERNEL(int64_t matmul_packed_bytes(const WeightView& w))
// Writes the packed copy of w into dst (matmul_packed_bytes(w) bytes, 64-byte aligned).
KV_DECLARE_CPU_KERNEL(void matmul_pack(uint8_t* dst, const WeightView& w, ThreadPool& pool))

namespace kv {

/** Whether two weights take the same converted activations (matmul_multi_cpu). */
inline bool matmul_can_share(const WeightView& a, const WeightView& b) {
  return a.dtype == b.dtype && a.cols == b.cols && (a.packed == nullptr) == (b.packed == nullptr);
}

/** The kernel's invariants; throws std::invalid_argument when one does not hold (binding path only). */
inline void matmul_check_shape(const WeightView& w, int64_t m) {
  if (!w.data && w.rows > 0) throw std::invalid_argument("matmul: weight data is null");
  if (w.rows < 0 || w.cols <= 0 || m < 0) throw std::invalid_argument("matmul: negative or empty shape");
  const int64_t block = dtype_block_elems(w.dtype);
  if (w.cols % block != 0) {
    throw std::invalid_argument(std::string("matmul: K = ") + std::to_string(w.cols) + " is not a multiple of the " +
                                dtype_name(w.dtype) + " block size " + std::to_string(block));
  }
}

}  // namespace kv
