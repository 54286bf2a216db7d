// CPU kernel for rope (see rope.h).
// cos/sin are computed once per token and pair chunk (scalar cosf/sinf: angles reach thousands of
// radians, where a cheap vector sincos loses accuracy) and reused for every head. The SIMD variants
// fuse one multiply into the add (FMA), so they may differ from the portable variant in the last bit.
//   norm: pairs are adjacent. With per-pair tables cs = (c, c), sn = (-s, s) the rotation is
//         x*cs + swap_pairs(x)*sn = (x0*c - x1*s, x1*c + x0*s).
//   neox: pairs are (x[i], x[i + half]): two contiguous streams.
#include <cmath>

#include "ops/rope/rope.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

constexpr int64_t kChunk = 128;  // pairs per cos/sin table: covers head_dim 256 in one pass

// x[0, m2) holds m2/2 adjacent pairs; cs/sn are the interleaved tables described above.
void rotate_norm(float* x, const float* cs, const float* sn, int64_t m2) {
  int64_t j = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; j + 16 <= m2; j += 16) {
    const __m512 v = _mm512_loadu_ps(x + j);
    const __m512 sw = _mm512_permute_ps(v, 0xB1);  // swap each adjacent pair
    _mm512_storeu_ps(x + j, _mm512_fmadd_ps(v, _mm512_loadu_ps(cs + j), _mm512_mul_ps(sw, _mm512_loadu_ps(sn + j))));
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; j + 8 <= m2; j += 8) {
    const __m256 v = _mm256_loadu_ps(x + j);
    const __m256 sw = _mm256_permute_ps(v, 0xB1);
    _mm256_storeu_ps(x + j, _mm256_fmadd_ps(v, _mm256_loadu_ps(cs + j), _mm256_mul_ps(sw, _mm256_loadu_ps(sn + j))));
  }
#endif
  for (; j < m2; j += 2) {
    const float x0 = x[j], x1 = x[j + 1], c = cs[j], s = sn[j + 1];
    x[j] = x0 * c - x1 * s;
    x[j + 1] = x0 * s + x1 * c;
  }
}

// a[j], b[j] for j < m are the pair halves; c/s are plain tables.
void rotate_neox(float* a, float* b, const float* c, const float* s, int64_t m) {
  int64_t j = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; j + 16 <= m; j += 16) {
    const __m512 x0 = _mm512_loadu_ps(a + j), x1 = _mm512_loadu_ps(b + j);
    const __m512 vc = _mm512_loadu_ps(c + j), vs = _mm512_loadu_ps(s + j);
    _mm512_storeu_ps(a + j, _mm512_fmsub_ps(x0, vc, _mm512_mul_ps(x1, vs)));
    _mm512_storeu_ps(b + j, _mm512_fmadd_ps(x0, vs, _mm512_mul_ps(x1, vc)));
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; j + 8 <= m; j += 8) {
    const __m256 x0 = _mm256_loadu_ps(a + j), x1 = _mm256_loadu_ps(b + j);
    const __m256 vc = _mm256_loadu_ps(c + j), vs = _mm256_loadu_ps(s + j);
    _mm256_storeu_ps(a + j, _mm256_fmsub_ps(x0, vc, _mm256_mul_ps(x1, vs)));
    _mm256_storeu_ps(b + j, _mm256_fmadd_ps(x0, vs, _mm256_mul_ps(x1, vc)));
  }
#endif
  for (; j < m; ++j) {
    const float x0 = a[j], x1 = b[j];
    a[j] = x0 * c[j] - x1 * s[j];
    b[j] = x0 * s[j] + x1 * c[j];
  }
}

}  // namespace

void rope_cpu(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
              const int32_t* positions, const float* inv_freq, float position_scale, int32_t layout) {
  const int64_t half = rope_dim / 2;
  alignas(64) float cs[2 * kChunk];
  alignas(64) float sn[2 * kChunk];
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float p = static_cast<float>(positions[t]) * position_scale;
    float* xt = x + t * n_heads * head_dim;
    for (int64_t i0 = 0; i0 < half; i0 += kChunk) {
      const int64_t m = half - i0 < kChunk ? half - i0 : kChunk;
      if (layout == kRopeNeox) {
        for (int64_t j = 0; j < m; ++j) {
          const float angle = p * inv_freq[i0 + j];
          cs[j] = std::cos(angle);
          sn[j] = std::sin(angle);
        }
        for (int64_t h = 0; h < n_heads; ++h) {
          float* xh = xt + h * head_dim;
          rotate_neox(xh + i0, xh + half + i0, cs, sn, m);
        }
      } else {
        for (int64_t j = 0; j < m; ++j) {
          const float angle = p * inv_freq[i0 + j];
          const float c = std::cos(angle), s = std::sin(angle);
          cs[2 * j] = c;
          cs[2 * j + 1] = c;
          sn[2 * j] = -s;
          sn[2 * j + 1] = s;
        }
        for (int64_t h = 0; h < n_heads; ++h) rotate_norm(xt + h * head_dim + 2 * i0, cs, sn, 2 * m);
      }
    }
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
