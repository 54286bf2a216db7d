// CPU kernel for rms_norm (see rms_norm.h). One row at a time; rows are independent, so callers
// parallelize over rows when there are many.
#include <cmath>

#include "ops/rms_norm/rms_norm.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

void rms_norm_cpu(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    int64_t i = 0;
    double sum = 0.0;
#if KV_ISA == KV_ISA_AVX512
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    for (; i + 16 <= dim; i += 16) {
      const __m512 v = _mm512_loadu_ps(xr + i);
      const __m512 sq = _mm512_mul_ps(v, v);  // squares rounded to float, as ggml does
      acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
      acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sq, 1)));
    }
    sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
#elif KV_ISA == KV_ISA_AVX2
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    for (; i + 8 <= dim; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      const __m256 sq = _mm256_mul_ps(v, v);
      acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
      acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    const __m256d acc = _mm256_add_pd(acc0, acc1);
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, acc);
    sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; i < dim; ++i) sum += static_cast<double>(xr[i] * xr[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(dim));
    const float scale = 1.0f / std::sqrt(mean + eps);
    i = 0;
#if KV_ISA == KV_ISA_AVX512
    const __m512 vs = _mm512_set1_ps(scale);
    for (; i + 16 <= dim; i += 16) {
      const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(xr + i), vs);
      _mm512_storeu_ps(yr + i, _mm512_mul_ps(v, _mm512_loadu_ps(weight + i)));
    }
#elif KV_ISA == KV_ISA_AVX2
    const __m256 vs = _mm256_set1_ps(scale);
    for (; i + 8 <= dim; i += 8) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + i), vs);
      _mm256_storeu_ps(yr + i, _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)));
    }
#endif
    for (; i < dim; ++i) yr[i] = (xr[i] * scale) * weight[i];
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
