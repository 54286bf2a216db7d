// CPU kernel for dequantize (see dequantize.h): one row -> f32.
// Every product here is exact in float: an f16 scale has 11 significant bits, a 6/8-bit sub-scale and a
// quant of at most 6 bits add up to <= 24. So the only rounding is Q4_K's final subtraction, and every
// variant is bit-identical to ggml's formulas whatever the compiler fuses (this build contracts a*b-c
// into FMA in the AVX variants).
// Blocks are read from raw bytes (the row may sit at any byte offset), scales through memcpy.
// The SIMD paths widen quants to int32 lanes and convert: the cost is memory-bound per block anyway.
#include <cstring>

#include "core/dtype.h"
#include "ops/dequantize/dequantize.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// ggml get_scale_min_k4: 8 pairs of 6-bit (scale, min) packed into 12 bytes.
inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Branch-free f16 -> f32 bits for the portable loop, written with masks so compilers vectorize it
// (fp16_to_fp32 has a renormalization loop). Same bits as fp16_to_fp32 for every input: exponent
// rebias for normals, all-ones exponent for inf/NaN (payload kept), and a subnormal m * 2^-24 as
// float(2^-14 * (1 + m/1024)) - 2^-14, which is exact.
inline uint32_t f16_to_f32_bits(uint32_t h) {
  const uint32_t em = (h & 0x7fffu) << 13;
  const uint32_t exp = em & 0x0f800000u;
  const uint32_t is_special = 0u - static_cast<uint32_t>(exp == 0x0f800000u);  // inf / NaN
  const uint32_t is_sub = 0u - static_cast<uint32_t>(exp == 0u);                // zero / subnormal
  const uint32_t normal = em + (112u << 23) + (is_special & (112u << 23));     // rebias 15 -> 127 (255)
  const uint32_t sub_bits = em + (113u << 23);
  float sub;
  std::memcpy(&sub, &sub_bits, 4);
  sub -= 6.103515625e-05f;
  uint32_t sb;
  std::memcpy(&sb, &sub, 4);
  return (sb & is_sub) | (normal & ~is_sub) | ((h & 0x8000u) << 16);
}

void dequant_f16(float* y, const uint8_t* x, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 2 * i))));
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 2 * i))));
  }
#endif
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    const uint32_t bits = f16_to_f32_bits(h);
    std::memcpy(y + i, &bits, 4);
  }
}

void dequant_bf16(float* y, const uint8_t* x, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; i + 16 <= n; i += 16) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 2 * i)));
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 2 * i)));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
  }
#endif
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    y[i] = bf16_to_fp32(h);
  }
}

// Block layouts: see core/dtype.h (d first for Q8_0/Q4_0/Q4_K, last for Q6_K).
void dequant_q8_0(float* y, const uint8_t* x, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += sizeof(BlockQ8_0), y += kQK8_0) {
    const float d = load_f16(x);
    const int8_t* q = reinterpret_cast<const int8_t*>(x + 2);
#if KV_ISA == KV_ISA_AVX512
    const __m512 vd = _mm512_set1_ps(d);
    for (int j = 0; j < kQK8_0; j += 16) {
      const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j)));
      _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_cvtepi32_ps(v), vd));
    }
#elif KV_ISA == KV_ISA_AVX2
    const __m256 vd = _mm256_set1_ps(d);
    for (int j = 0; j < kQK8_0; j += 8) {
      const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j)));
      _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vd));
    }
#else
    for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(q[j]) * d;
#endif
  }
}

void dequant_q4_0(float* y, const uint8_t* x, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += sizeof(BlockQ4_0), y += kQK4_0) {
    const float d = load_f16(x);
    const uint8_t* q = x + 2;
#if KV_ISA == KV_ISA_AVX512
    const __m512 vd = _mm512_set1_ps(d);
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    const __m512i eight = _mm512_set1_epi32(8);
    const __m512i lo = _mm512_sub_epi32(_mm512_and_si512(v, _mm512_set1_epi32(0xF)), eight);
    const __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(v, 4), eight);
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), vd));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), vd));
#elif KV_ISA == KV_ISA_AVX2
    const __m256 vd = _mm256_set1_ps(d);
    const __m256i eight = _mm256_set1_epi32(8);
    for (int j = 0; j < 16; j += 8) {
      const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j)));
      const __m256i lo = _mm256_sub_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xF)), eight);
      const __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(v, 4), eight);
      _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), vd));
      _mm256_storeu_ps(y + 16 + j, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), vd));
    }
#else
    uint8_t qb[16];  // a local copy cannot alias y, so the compiler vectorizes the loop
    std::memcpy(qb, q, 16);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((qb[j] & 0xF) - 8) * d;
      y[j + 16] = static_cast<float>((qb[j] >> 4) - 8) * d;
    }
#endif
  }
}

// Q4_K: 4 chunks of 64; chunk c uses sub-blocks 2c (low nibbles of 32 bytes) and 2c+1 (high nibbles).
void dequant_q4_k(float* y, const uint8_t* x, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += sizeof(BlockQ4_K)) {
    const float d = load_f16(x + offsetof(BlockQ4_K, d));
    const float dmin = load_f16(x + offsetof(BlockQ4_K, dmin));
    const uint8_t* scales = x + offsetof(BlockQ4_K, scales);
    const uint8_t* q = x + offsetof(BlockQ4_K, qs);
    for (int c = 0; c < 4; ++c, q += 32, y += 64) {
      int sc, m;
      scale_min_k4(2 * c, scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(2 * c + 1, scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
#if KV_ISA == KV_ISA_AVX512
      const __m512 vd1 = _mm512_set1_ps(d1), vm1 = _mm512_set1_ps(m1);
      const __m512 vd2 = _mm512_set1_ps(d2), vm2 = _mm512_set1_ps(m2);
      for (int l = 0; l < 32; l += 16) {
        const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + l)));
        const __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, _mm512_set1_epi32(0xF)));
        const __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
        _mm512_storeu_ps(y + l, _mm512_sub_ps(_mm512_mul_ps(vd1, lo), vm1));
        _mm512_storeu_ps(y + 32 + l, _mm512_sub_ps(_mm512_mul_ps(vd2, hi), vm2));
      }
#elif KV_ISA == KV_ISA_AVX2
      const __m256 vd1 = _mm256_set1_ps(d1), vm1 = _mm256_set1_ps(m1);
      const __m256 vd2 = _mm256_set1_ps(d2), vm2 = _mm256_set1_ps(m2);
      for (int l = 0; l < 32; l += 8) {
        const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + l)));
        const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(0xF)));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
        _mm256_storeu_ps(y + l, _mm256_sub_ps(_mm256_mul_ps(vd1, lo), vm1));
        _mm256_storeu_ps(y + 32 + l, _mm256_sub_ps(_mm256_mul_ps(vd2, hi), vm2));
      }
#else
      for (int l = 0; l < 32; ++l) {
        y[l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
        y[l + 32] = d2 * static_cast<float>(q[l] >> 4) - m2;
      }
#endif
    }
  }
}

// Q6_K: 2 halves of 128; in a half, element l + 32k (l < 32, k < 4) takes nibble k&1 of ql[l + 32(k>>1)]
// and bits 2k..2k+1 of qh[l], with scale sc[l/16 + 2k].
void dequant_q6_k(float* y, const uint8_t* x, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += sizeof(BlockQ6_K)) {
    const float d = load_f16(x + offsetof(BlockQ6_K, d));
    const uint8_t* ql = x + offsetof(BlockQ6_K, ql);
    const uint8_t* qh = x + offsetof(BlockQ6_K, qh);
    const int8_t* sc = reinterpret_cast<const int8_t*>(x + offsetof(BlockQ6_K, scales));
    for (int h = 0; h < 2; ++h, ql += 64, qh += 32, sc += 8, y += 128) {
#if KV_ISA == KV_ISA_AVX512
      const __m512i m4 = _mm512_set1_epi32(0xF), m2 = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
      for (int l = 0; l < 32; l += 16) {
        const int is = l / 16;
        const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l)));
        const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + 32 + l)));
        const __m512i hb = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + l)));
        const __m512i q[4] = {
            _mm512_or_si512(_mm512_and_si512(a, m4), _mm512_slli_epi32(_mm512_and_si512(hb, m2), 4)),
            _mm512_or_si512(_mm512_and_si512(c, m4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 2), m2), 4)),
            _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 4), m2), 4)),
            _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_slli_epi32(_mm512_srli_epi32(hb, 6), 4)),
        };
        for (int k = 0; k < 4; ++k) {
          const __m512 s = _mm512_set1_ps(d * static_cast<float>(sc[is + 2 * k]));
          _mm512_storeu_ps(y + l + 32 * k, _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(q[k], k32))));
        }
      }
#elif KV_ISA == KV_ISA_AVX2
      const __m256i m4 = _mm256_set1_epi32(0xF), m2 = _mm256_set1_epi32(3), k32 = _mm256_set1_epi32(32);
      for (int l = 0; l < 32; l += 8) {
        const int is = l / 16;
        const __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ql + l)));
        const __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ql + 32 + l)));
        const __m256i hb = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qh + l)));
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_slli_epi32(_mm256_and_si256(hb, m2), 4)),
            _mm256_or_si256(_mm256_and_si256(c, m4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hb, 2), m2), 4)),
            _mm256_or_si256(_mm256_srli_epi32(a, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hb, 4), m2), 4)),
            _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_slli_epi32(_mm256_srli_epi32(hb, 6), 4)),
        };
        for (int k = 0; k < 4; ++k) {
          const __m256 s = _mm256_set1_ps(d * static_cast<float>(sc[is + 2 * k]));
          _mm256_storeu_ps(y + l + 32 * k, _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(q[k], k32))));
        }
      }
#else
      for (int l0 = 0; l0 < 32; l0 += 16) {  // one scale per 16: hoisted so the inner loop vectorizes
        const int is = l0 / 16;
        const float s1 = d * static_cast<float>(sc[is]), s2 = d * static_cast<float>(sc[is + 2]);
        const float s3 = d * static_cast<float>(sc[is + 4]), s4 = d * static_cast<float>(sc[is + 6]);
        for (int l = l0; l < l0 + 16; ++l) {
          const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          y[l] = s1 * static_cast<float>(q1);
          y[l + 32] = s2 * static_cast<float>(q2);
          y[l + 64] = s3 * static_cast<float>(q3);
          y[l + 96] = s4 * static_cast<float>(q4);
        }
      }
#endif
    }
  }
}

}  // namespace

void dequantize_row_cpu(float* out, const void* row, DType dtype, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  switch (dtype) {
    case DType::F32: if (n > 0) std::memcpy(out, x, static_cast<size_t>(n) * 4); break;
    case DType::F16: dequant_f16(out, x, n); break;
    case DType::BF16: dequant_bf16(out, x, n); break;
    case DType::Q8_0: dequant_q8_0(out, x, n / kQK8_0); break;
    case DType::Q4_0: dequant_q4_0(out, x, n / kQK4_0); break;
    case DType::Q4_K: dequant_q4_k(out, x, n / kQK_K); break;
    case DType::Q6_K: dequant_q6_k(out, x, n / kQK_K); break;
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
