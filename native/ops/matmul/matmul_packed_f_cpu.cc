// Packed F32 / F16 / BF16 weights for AVX-512 (see matmul.h, "Packed weights"): made once at load,
// read by every matmul, decode (m = 1) and batches alike, so a row's result never depends on m.
//
// Layout: weight rows in panels of 64 (the last panel zero-padded); per panel, for k = 0 .. K-1 the
// 64 rows' weights at k (256 bytes for F32, 128 for F16 / BF16): the panel is one contiguous stream,
// and a k step is 4 vectors of 16 rows.
//
// Kernel: outer products. For a tile of the 64 panel rows x C rows of x, each k step loads the 4
// weight vectors (widened to f32 for F16 / BF16) and adds w[k] * x[c, k] (x broadcast) into 4 x C
// accumulators: out[c, r] is one lane's FMA chain over k = 0 .. K-1 in order, then + bias, whatever
// C and m are. x holds the f16 / bf16-rounded activations for F16 / BF16 weights (matmul_cpu.cc), so
// each product is ggml's; only the order of the f32 sum differs from ggml's vector dot products.
#include <cstring>

#include "core/dtype.h"
#include "ops/matmul/matmul.h"
#include "ops/matmul/matmul_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

constexpr int64_t kPanel = 64;

int64_t elem_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

[[maybe_unused]] bool packable(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Packs panels [p0, p1) of w into dst (the whole packed buffer).
void pack_panels(uint8_t* dst, const WeightView& w, int64_t p0, int64_t p1) {
  const int64_t k = w.cols, eb = elem_bytes(w.dtype), pstride = k * kPanel * eb;
  for (int64_t p = p0; p < p1; ++p) {
    uint8_t* pp = dst + p * pstride;
    for (int64_t r = 0; r < kPanel; ++r) {
      const int64_t row = p * kPanel + r;
      if (row >= w.rows) {
        for (int64_t i = 0; i < k; ++i) std::memset(pp + (i * kPanel + r) * eb, 0, static_cast<size_t>(eb));
        continue;
      }
      const uint8_t* src = w.row(row);
      for (int64_t i = 0; i < k; ++i) std::memcpy(pp + (i * kPanel + r) * eb, src + i * eb, static_cast<size_t>(eb));
    }
  }
}

#if KV_ISA == KV_ISA_AVX512

template <DType T>
__attribute__((always_inline)) inline __m512 load_w(const uint8_t* p) {
  if constexpr (T == DType::F32) {
    return _mm512_load_ps(p);
  } else if constexpr (T == DType::F16) {
    return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
  }
}

// One panel (64 rows) x C rows of x; out points at out[c0, 64 p]; `rows` (1..64) of the panel are
// stored. prefetch: the next panel, requested into L2 step by step while this one computes, or nullptr.
template <DType T, int C>
void tile(float* out, int64_t ldo, const float* x, int64_t k, const uint8_t* panel, const float* bias, int rows,
          const uint8_t* prefetch) {
  constexpr int64_t kStep = kPanel * (T == DType::F32 ? 4 : 2);  // bytes of one k step
  constexpr int64_t kVec = 16 * (T == DType::F32 ? 4 : 2);       // bytes of one vector of 16 rows
  __m512 acc[4][C];
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[v][c] = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; ++i) {
    const uint8_t* p = panel + i * kStep;
    if (prefetch) {
#pragma GCC unroll 4
      for (int64_t l = 0; l < kStep; l += 64) _mm_prefetch(reinterpret_cast<const char*>(prefetch + i * kStep + l), _MM_HINT_T1);
    }
    __m512 wv[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) wv[v] = load_w<T>(p + v * kVec);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512 xv = _mm512_set1_ps(x[c * k + i]);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[v][c] = _mm512_fmadd_ps(wv[v], xv, acc[v][c]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    const int left = rows - 16 * v;
    if (left <= 0) break;
    const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(out + c * ldo + 16 * v, mask, _mm512_add_ps(acc[v][c], bv));
  }
}

template <DType T>
void panels(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t p0, int64_t p1) {
  constexpr int kC = 6;  // 24 accumulators + 4 weight vectors of the 32 zmm registers
  const int64_t n = w.rows, k = w.cols, pstride = k * kPanel * elem_bytes(T);
  for (int64_t p = p0; p < p1; ++p) {
    const uint8_t* panel = w.packed + p * pstride;
    const float* bp = bias ? bias + p * kPanel : nullptr;
    const int rows = static_cast<int>(std::min<int64_t>(kPanel, n - p * kPanel));
    float* o = out + p * kPanel;
    // The first rows of x run while the next panel is requested (see matmul_packed_q_cpu.cc).
    const int64_t panels_total = (n + kPanel - 1) / kPanel;
    const uint8_t* next = p + 1 < panels_total ? panel + pstride : nullptr;
    int64_t c = 0;
    for (; c + kC <= a.m; c += kC) tile<T, kC>(o + c * n, n, a.f + c * k, k, panel, bp, rows, c == 0 ? next : nullptr);
    const float* xc = a.f + c * k;
    const uint8_t* pf = c == 0 ? next : nullptr;
    switch (a.m - c) {  // the last rows of x
      case 1: tile<T, 1>(o + c * n, n, xc, k, panel, bp, rows, pf); break;
      case 2: tile<T, 2>(o + c * n, n, xc, k, panel, bp, rows, pf); break;
      case 3: tile<T, 3>(o + c * n, n, xc, k, panel, bp, rows, pf); break;
      case 4: tile<T, 4>(o + c * n, n, xc, k, panel, bp, rows, pf); break;
      case 5: tile<T, 5>(o + c * n, n, xc, k, panel, bp, rows, pf); break;
      default: break;
    }
  }
}

#endif

}  // namespace

int64_t matmul_packed_f_bytes(const WeightView& w) {
#if KV_ISA == KV_ISA_AVX512
  if (!packable(w.dtype)) return 0;
  return (w.rows + kPanel - 1) / kPanel * kPanel * w.cols * elem_bytes(w.dtype);
#else
  (void)w;
  return 0;
#endif
}

void matmul_pack_f(uint8_t* dst, const WeightView& w, ThreadPool& pool) {
  if (matmul_packed_f_bytes(w) == 0) return;
  const int64_t n = (w.rows + kPanel - 1) / kPanel;
  pool.parallel_for(n, 1, [&](int64_t p0, int64_t p1, int) { pack_panels(dst, w, p0, p1); });
}

void matmul_packed_f_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t p0, int64_t p1) {
#if KV_ISA == KV_ISA_AVX512
  switch (w.dtype) {
    case DType::F32: panels<DType::F32>(out, a, w, bias, p0, p1); break;
    case DType::F16: panels<DType::F16>(out, a, w, bias, p0, p1); break;
    case DType::BF16: panels<DType::BF16>(out, a, w, bias, p0, p1); break;
    default: break;
  }
#else
  (void)out, (void)a, (void)w, (void)bias, (void)p0, (void)p1;
#endif
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
