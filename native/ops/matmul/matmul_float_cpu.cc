// matmul kernels for F32, F16 and BF16 weights (see matmul.h).
//   out  [m, N] f32; rows [r0, r1) are written for every row of x
//   a.f  [m, K] f32 activations, already rounded to f16 / bf16 values for F16 / BF16 weights, so each
//        product equals ggml's f16 x f16 (bf16 x bf16) product and sums accumulate in f32
//   w    [N, K] F32 / F16 / BF16, any K >= 1
// SIMD: a register tile of R weight rows x C activation rows; weights are widened to f32 in registers
// (F16C / a 16-bit shift for bf16), each weight vector feeds C FMAs and each activation vector R FMAs.
// The weight tile stays in L1 while it sweeps all m rows, so each weight row is read from memory once.
#include <cstring>

#include "core/dtype.h"
#include "ops/matmul/matmul_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

template <DType T>
float weight_at(const uint8_t* row, int64_t k) {
  if constexpr (T == DType::F32) {
    float v;
    std::memcpy(&v, row + 4 * k, 4);
    return v;
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * k, 2);
    return T == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
  }
}

#if KV_ISA == KV_ISA_AVX512

constexpr int kTileR = 4, kTileC = 4;

// Horizontal sum (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its own header).
float hsum(__m512 v) {
  __m256 s = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}

template <DType T>
__m512 load_w(const uint8_t* row, int64_t k) {
  if constexpr (T == DType::F32) {
    return _mm512_loadu_ps(row + 4 * k);
  } else if constexpr (T == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
  } else {
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
  }
}

template <DType T>
__m512 load_w_tail(const uint8_t* row, int64_t k, __mmask16 mask) {
  if constexpr (T == DType::F32) {
    return _mm512_maskz_loadu_ps(mask, row + 4 * k);
  } else if constexpr (T == DType::F16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * k));
  } else {
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row + 2 * k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
  }
}

// out[c * ldo + r] = dot(W[r], a[c]) (+ bias[r]) for r < R, c < C. Small tiles (decode) use U
// independent accumulator sets so the FMA latency chain does not bound a single stream.
template <DType T, int R, int C>
void tile(float* out, int64_t ldo, const float* a, int64_t K, const uint8_t* w, int64_t wstride, const float* bias) {
  constexpr int U = R * C == 1 ? 4 : R * C < 4 ? 2 : 1;
  __m512 acc[U][R][C];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[u][r][c] = _mm512_setzero_ps();
  const auto step = [&](int64_t k, int u) __attribute__((always_inline)) {
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w<T>(w + r * wstride, k);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m512 av = _mm512_loadu_ps(a + c * K + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[u][r][c] = _mm512_fmadd_ps(wv[r], av, acc[u][r][c]);
    }
  };
  int64_t k = 0;
  for (; k + 16 * U <= K; k += 16 * U)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) step(k + 16 * u, u);
  for (; k + 16 <= K; k += 16) step(k, 0);
#pragma GCC unroll 4
  for (int u = 1; u < U; ++u)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[0][r][c] = _mm512_add_ps(acc[0][r][c], acc[u][r][c]);
  if (k < K) {  // masked tail: K need not be a multiple of 16
    const __mmask16 mask = static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w_tail<T>(w + r * wstride, k, mask);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, a + c * K + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[0][r][c] = _mm512_fmadd_ps(wv[r], av, acc[0][r][c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const float b = bias ? bias[r] : 0.f;
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) out[c * ldo + r] = hsum(acc[0][r][c]) + b;
  }
}

#elif KV_ISA == KV_ISA_AVX2

constexpr int kTileR = 4, kTileC = 2;  // 8 accumulators + 4 weight vectors of the 16 ymm registers

template <DType T>
__m256 load_w(const uint8_t* row, int64_t k) {
  if constexpr (T == DType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (T == DType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
  }
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <DType T, int R, int C>
void tile(float* out, int64_t ldo, const float* a, int64_t K, const uint8_t* w, int64_t wstride, const float* bias) {
  constexpr int U = R * C == 1 ? 4 : R * C < 4 ? 2 : 1;  // independent accumulator sets, as for AVX-512
  __m256 acc[U][R][C];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[u][r][c] = _mm256_setzero_ps();
  const auto step = [&](int64_t k, int u) __attribute__((always_inline)) {
    __m256 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w<T>(w + r * wstride, k);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256 av = _mm256_loadu_ps(a + c * K + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[u][r][c] = _mm256_fmadd_ps(wv[r], av, acc[u][r][c]);
    }
  };
  int64_t k = 0;
  for (; k + 8 * U <= K; k += 8 * U)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) step(k + 8 * u, u);
  for (; k + 8 <= K; k += 8) step(k, 0);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const float b = bias ? bias[r] : 0.f;
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      __m256 sum = acc[0][r][c];
#pragma GCC unroll 4
      for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[u][r][c]);
      float s = hsum(sum);
      for (int64_t t = k; t < K; ++t) s += weight_at<T>(w + r * wstride, t) * a[c * K + t];  // K % 8 tail
      out[c * ldo + r] = s + b;
    }
  }
}

#endif

#if KV_ISA == KV_ISA_AVX512 || KV_ISA == KV_ISA_AVX2

template <DType T, int R>
void row_tile_all_cols(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r) {
  const int64_t n = w.rows, k = w.cols, rb = w.row_bytes();
  const uint8_t* wr = w.row(r);
  const float* br = bias ? bias + r : nullptr;
  int64_t c = 0;
  for (; c + kTileC <= a.m; c += kTileC) tile<T, R, kTileC>(out + c * n + r, n, a.f + c * k, k, wr, rb, br);
  switch (a.m - c) {  // the last rows of x
    case 1: tile<T, R, 1>(out + c * n + r, n, a.f + c * k, k, wr, rb, br); break;
    case 2: if constexpr (kTileC > 2) tile<T, R, 2>(out + c * n + r, n, a.f + c * k, k, wr, rb, br); break;
    case 3: if constexpr (kTileC > 3) tile<T, R, 3>(out + c * n + r, n, a.f + c * k, k, wr, rb, br); break;
    default: break;
  }
}

template <DType T>
void rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  int64_t r = r0;
  // Few rows of x (decode) are memory bound: one weight row at a time streams from DRAM much faster
  // than R interleaved rows (measured 19 vs 13 GB/s for f32, 30 vs 10 for f16, on Zen 5).
  if (a.m >= 4)
    for (; r + kTileR <= r1; r += kTileR) row_tile_all_cols<T, kTileR>(out, a, w, bias, r);
  for (; r < r1; ++r) row_tile_all_cols<T, 1>(out, a, w, bias, r);
}

#else  // portable

// Dot product with 8 independent partial sums (the compiler keeps them in SSE registers).
float dot(const float* x, const float* y, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j] * y[i + j];
  for (; i < n; ++i) acc[i & 7] += x[i] * y[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

template <DType T>
void rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  constexpr int64_t kChunk = 1024;  // weights widened to f32 a chunk at a time, then used for all m rows
  alignas(64) float buf[kChunk];
  const int64_t n = w.rows, k = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w.row(r);
    for (int64_t k0 = 0; k0 < k; k0 += kChunk) {
      const int64_t len = k - k0 < kChunk ? k - k0 : kChunk;
      const float* wf = buf;
      if constexpr (T == DType::F32) {
        wf = reinterpret_cast<const float*>(wr) + k0;
      } else {
        for (int64_t t = 0; t < len; ++t) buf[t] = weight_at<T>(wr, k0 + t);
      }
      for (int64_t c = 0; c < a.m; ++c) {
        const float s = dot(wf, a.f + c * k + k0, len);
        out[c * n + r] = k0 == 0 ? s : out[c * n + r] + s;
      }
    }
    if (bias)
      for (int64_t c = 0; c < a.m; ++c) out[c * n + r] += bias[r];
  }
}

#endif

}  // namespace

void matmul_float_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  switch (w.dtype) {
    case DType::F32: rows<DType::F32>(out, a, w, bias, r0, r1); break;
    case DType::F16: rows<DType::F16>(out, a, w, bias, r0, r1); break;
    case DType::BF16: rows<DType::BF16>(out, a, w, bias, r0, r1); break;
    default: break;
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
