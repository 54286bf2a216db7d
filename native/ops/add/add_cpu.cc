// CPU kernels for add and add_bias (see add.h). Pure streaming: unaligned SIMD body, scalar tail.
#include "ops/add/add.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

// out = a + b over n elements; out may alias a or b (each element is read before it is written).
void add_span(float* out, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; i + 32 <= n; i += 32) {
    const __m512 s0 = _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 s1 = _mm512_add_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    _mm512_storeu_ps(out + i, s0);
    _mm512_storeu_ps(out + i + 16, s1);
  }
  if (i + 16 <= n) {
    _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(out + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    i = n;
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; i + 16 <= n; i += 16) {
    const __m256 s0 = _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 s1 = _mm256_add_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    _mm256_storeu_ps(out + i, s0);
    _mm256_storeu_ps(out + i + 8, s1);
  }
  if (i + 8 <= n) {
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    i += 8;
  }
#endif
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace

void add_cpu(float* out, const float* a, const float* b, int64_t n) { add_span(out, a, b, n); }

void add_bias_cpu(float* x, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) add_span(x + r * cols, x + r * cols, bias, cols);
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
