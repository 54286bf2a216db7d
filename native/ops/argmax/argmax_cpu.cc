// CPU kernel for argmax_rows (see argmax.h).
// SIMD: every lane of every accumulator starts at (x[0], 0) and replaces its value only when an
// element is strictly greater (ordered compare: NaN never wins), so each lane holds the first index
// of its maximum over its subsequence, or 0 if none beats x[0]. The reduction takes the largest lane
// value and the smallest index among the lanes equal to it: exactly the scalar loop's answer. Four
// accumulators break the compare -> blend dependency chain; the portable variant runs the same
// scheme with 8 scalar lanes (twice the speed of the single-chain loop).
#include "ops/argmax/argmax.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

int32_t argmax_row(const float* x, int64_t cols) {
  float best = x[0];
  int64_t idx = 0;
  int64_t i = 1;
#if KV_ISA == KV_ISA_AVX512
  if (cols >= 64) {
    __m512 bv[4];
    __m512i bi[4];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int k = 0; k < 4; ++k) {
      bv[k] = _mm512_set1_ps(x[0]);
      bi[k] = _mm512_setzero_si512();
    }
    i = 0;
    for (; i + 64 <= cols; i += 64) {
      for (int k = 0; k < 4; ++k) {
        const __m512 v = _mm512_loadu_ps(x + i + 16 * k);
        const __mmask16 gt = _mm512_cmp_ps_mask(v, bv[k], _CMP_GT_OQ);
        bv[k] = _mm512_mask_mov_ps(bv[k], gt, v);
        bi[k] = _mm512_mask_mov_epi32(bi[k], gt, _mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int32_t>(i + 16 * k))));
      }
    }
    alignas(64) float vals[64];
    alignas(64) int32_t ids[64];
    for (int k = 0; k < 4; ++k) {
      _mm512_store_ps(vals + 16 * k, bv[k]);
      _mm512_store_si512(ids + 16 * k, bi[k]);
    }
    best = vals[0];
    idx = ids[0];
    for (int j = 1; j < 64; ++j) {
      if (vals[j] > best || (vals[j] == best && ids[j] < idx)) best = vals[j], idx = ids[j];
    }
  }
#elif KV_ISA == KV_ISA_AVX2
  if (cols >= 32) {
    __m256 bv[4];
    __m256i bi[4];
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int k = 0; k < 4; ++k) {
      bv[k] = _mm256_set1_ps(x[0]);
      bi[k] = _mm256_setzero_si256();
    }
    i = 0;
    for (; i + 32 <= cols; i += 32) {
      for (int k = 0; k < 4; ++k) {
        const __m256 v = _mm256_loadu_ps(x + i + 8 * k);
        const __m256 gt = _mm256_cmp_ps(v, bv[k], _CMP_GT_OQ);
        bv[k] = _mm256_blendv_ps(bv[k], v, gt);
        bi[k] = _mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(bi[k]),
            _mm256_castsi256_ps(_mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int32_t>(i + 8 * k)))), gt));
      }
    }
    alignas(32) float vals[32];
    alignas(32) int32_t ids[32];
    for (int k = 0; k < 4; ++k) {
      _mm256_store_ps(vals + 8 * k, bv[k]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(ids + 8 * k), bi[k]);
    }
    best = vals[0];
    idx = ids[0];
    for (int j = 1; j < 32; ++j) {
      if (vals[j] > best || (vals[j] == best && ids[j] < idx)) best = vals[j], idx = ids[j];
    }
  }
#else
  // The same lane scheme in scalar code: 8 independent compare chains instead of one.
  if (cols >= 32) {
    constexpr int kLanes = 8;
    float bv[kLanes];
    int64_t bi[kLanes];
    for (int k = 0; k < kLanes; ++k) bv[k] = x[0], bi[k] = 0;
    i = 0;
    for (; i + kLanes <= cols; i += kLanes) {
      for (int k = 0; k < kLanes; ++k) {
        if (x[i + k] > bv[k]) bv[k] = x[i + k], bi[k] = i + k;
      }
    }
    best = bv[0];
    idx = bi[0];
    for (int k = 1; k < kLanes; ++k) {
      if (bv[k] > best || (bv[k] == best && bi[k] < idx)) best = bv[k], idx = bi[k];
    }
  }
#endif
  // Scalar loop (and the tail after the lane loop, whose best/idx it continues).
  for (; i < cols; ++i) {
    if (x[i] > best) best = x[i], idx = i;
  }
  return static_cast<int32_t>(idx);
}

}  // namespace

void argmax_rows_cpu(int32_t* out, const float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) out[r] = argmax_row(x + r * cols, cols);
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
