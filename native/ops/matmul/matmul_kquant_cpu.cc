// matmul kernels for Q4_K and Q6_K weights against Q8_K-quantized activations (see matmul.h).
//   out      [m, N] f32; rows [r0, r1) are written for every row of x
//   a.qs     [m, K] int8 activation quants, a.d [m, K/256] block scales, a.bsums [m, K/16] sums of 16 quants
//   w        [N, K/256] BlockQ4_K or BlockQ6_K
// Per 256-block, the math of ggml_vec_dot_q4_K_q8_K / q6_K_q8_K with exact integer parts:
//   Q4_K: (d_w d_x) * sum_j sc_j * dot(nibbles_j, a_j)  -  (dmin_w d_x) * sum_j mn_j * (bsum_2j + bsum_2j+1)
//         (8 sub-blocks of 32, 6-bit sc/mn unpacked as get_scale_min_k4)
//   Q6_K: (d_w d_x) * sum_g sc_g * dot(q6_g - 32, a_g)      (16 sub-blocks of 16, q6 in 0..63)
// SIMD: unsigned x signed bytes with vpmaddubsw (Q4_K nibbles as they are; Q6_K's centered q6 - 32 with
// the sign trick |w| * (a with the sign of w), so lanes hold small centered sums as in ggml and never
// saturate: 32 * 128 * 2 < 32768), then the int16 pair sums times the per-pair sub-block scale with
// vpdpwssd (AVX-512 VNNI) or vpmaddwd (AVX2).
// Each weight block is decoded once into registers per tile of C activation rows.
#include <cstring>

#include "core/dtype.h"
#include "ops/matmul/matmul_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

float half(uint16_t h) {
#if KV_ISA == KV_ISA_AVX512 || KV_ISA == KV_ISA_AVX2
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32(h);
#endif
}

// Q4_K's 12 scale bytes -> sc[0..7] (bytes 0..7) and mn[0..7] (bytes 8..15), as get_scale_min_k4:
// sub-blocks 0..3 keep 6 low bits; 4..7 take a nibble of bytes 8..11 plus the top 2 bits of bytes 0..7.
void unpack_q4k_scales(const uint8_t* s, uint32_t out[4]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, s, 4);
  std::memcpy(&u1, s + 4, 4);
  std::memcpy(&u2, s + 8, 4);
  out[0] = u0 & 0x3f3f3f3fu;
  out[1] = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  out[2] = u1 & 0x3f3f3f3fu;
  out[3] = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
}

#if KV_ISA == KV_ISA_AVX512

constexpr int kTileC = 8;  // 8 float accumulators + 9 decoded-weight registers

// Horizontal sum (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its own header).
float hsum(__m512 v) {
  __m256 s = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}

// vpermw indices: pair lane l (of the 32 int16 lanes of 64-element chunk j) -> the index of its scale in
// the 16 int16 scales (Q4_K: 8 scales then 8 mins; Q6_K: 16 scales). Row 4 (Q4_K): the min of bsum g.
struct ScaleIndex {
  alignas(64) int16_t v[5][32];
};

constexpr ScaleIndex make_scale_index(bool q6) {
  ScaleIndex t{};
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) t.v[j][l] = static_cast<int16_t>(q6 ? 4 * j + l / 8 : 2 * j + l / 16);
  for (int g = 0; g < 16; ++g) t.v[4][g] = static_cast<int16_t>(8 + g / 2);
  return t;
}

constexpr ScaleIndex kScaleIndexQ4K = make_scale_index(false);
constexpr ScaleIndex kScaleIndexQ6K = make_scale_index(true);

// One weight block ready for the dot products: 4 chunks of 64 quants in element order (Q4_K: nibbles;
// Q6_K: |q6 - 32| with the lanes where q6 - 32 < 0 in neg), the per-pair scales of each chunk, the
// mins each of the 16 bsums multiplies (Q4_K), and the float scales.
struct Decoded {
  __m512i q[4];
  __m512i sc[4];
  __mmask64 neg[4];
  __m256i mins;
  float d, dmin;
};

template <DType T>
__attribute__((always_inline)) inline void decode(const uint8_t* blk, Decoded& o) {
  const ScaleIndex& si = T == DType::Q6_K ? kScaleIndexQ6K : kScaleIndexQ4K;
  const auto idx = [&si](int j) { return _mm512_load_si512(si.v[j]); };
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  if constexpr (T == DType::Q4_K) {
    const auto* x = reinterpret_cast<const BlockQ4_K*>(blk);
    alignas(16) uint32_t sm[4];
    unpack_q4k_scales(x->scales, sm);
    const __m512i s16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(sm))));
    for (int j = 0; j < 4; ++j) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qs + 32 * j));
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);
      o.q[j] = _mm512_and_si512(both, m4);  // low nibbles: elements 64j..+31, high: 64j+32..+63
      o.sc[j] = _mm512_permutexvar_epi16(idx(j), s16);
    }
    o.mins = _mm512_castsi512_si256(_mm512_permutexvar_epi16(idx(4), s16));  // mn[g / 2] for bsum g
    o.d = half(x->d);
    o.dmin = half(x->dmin);
  } else {
    const auto* x = reinterpret_cast<const BlockQ6_K*>(blk);
    const __m512i m2 = _mm512_set1_epi8(0x03);
    for (int h = 0; h < 2; ++h) {
      const __m512i l = _mm512_loadu_si512(x->ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qh + 32 * h)));
      // Elements 32..63 of a half take qh bits 2-3 (chunk 2h) or 6-7 (chunk 2h+1): pre-shift the upper copy by 2.
      const __m512i hs = _mm512_mask_blend_epi64(0xf0, hb, _mm512_srli_epi16(hb, 2));
      const __m512i q0 = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(_mm512_and_si512(hs, m2), 4));
      const __m512i q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hs, 4), m2), 4));
      for (int t = 0; t < 2; ++t) {
        const __m512i w = _mm512_sub_epi8(t ? q1 : q0, _mm512_set1_epi8(32));
        o.q[2 * h + t] = _mm512_abs_epi8(w);
        o.neg[2 * h + t] = _mm512_movepi8_mask(w);
      }
    }
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x->scales)));
    for (int j = 0; j < 4; ++j) o.sc[j] = _mm512_permutexvar_epi16(idx(j), _mm512_castsi256_si512(s16));
    o.d = half(x->d);
    o.dmin = 0.f;
  }
}

template <DType T, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* w, const float* bias) {
  constexpr bool kQ6 = T == DType::Q6_K;
  const int64_t k = a.k, nb = k / kQK_K;
  __m512 acc[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    Decoded wd;
    decode<T>(w + b * dtype_block_bytes(T), wd);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const int8_t* ap = a.qs + (c0 + c) * k + b * kQK_K;
      __m512i s = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        __m512i av = _mm512_loadu_si512(ap + 64 * j);
        if constexpr (kQ6) av = _mm512_mask_sub_epi8(av, wd.neg[j], _mm512_setzero_si512(), av);
        s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(wd.q[j], av), wd.sc[j]);
      }
      const float da = a.d[(c0 + c) * nb + b];
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(wd.d * da), acc[c]);
      if constexpr (!kQ6) {
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums + (c0 + c) * (k / 16) + b * 16));
        const __m256i mins = _mm256_madd_epi16(bs, wd.mins);
        acc[c] = _mm512_fnmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(mins)), _mm512_set1_ps(wd.dmin * da), acc[c]);
      }
    }
  }
  const float bv = bias ? bias[0] : 0.f;
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) out[c * ldo] = hsum(acc[c]) + bv;
}

#elif KV_ISA == KV_ISA_AVX2

constexpr int kTileC = 4;

// 64 quants of chunk j (two ymm of 32, element order) and the per-pair scales of each (16 int16 lanes).
// Q4_K: q = nibbles. Q6_K: q = |q6 - 32| and w = q6 - 32, whose sign the activations take.
template <DType T>
__attribute__((always_inline)) inline void decode_chunk(const uint8_t* blk, const int16_t* sc, int j, __m256i q[2],
                                                        __m256i w[2], __m256i s[2]) {
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  if constexpr (T == DType::Q4_K) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const BlockQ4_K*>(blk)->qs + 32 * j));
    q[0] = _mm256_and_si256(v, m4);
    q[1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    s[0] = _mm256_set1_epi16(sc[2 * j]);
    s[1] = _mm256_set1_epi16(sc[2 * j + 1]);
  } else {
    const auto* x = reinterpret_cast<const BlockQ6_K*>(blk);
    const int h = j / 2, hi = j % 2;
    const __m256i m2 = _mm256_set1_epi8(0x03);
    __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->ql + 64 * h));
    __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->ql + 64 * h + 32));
    __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qh + 32 * h));
    if (hi) {
      l0 = _mm256_srli_epi16(l0, 4);
      l1 = _mm256_srli_epi16(l1, 4);
      hb = _mm256_srli_epi16(hb, 4);
    }
    const __m256i m32 = _mm256_set1_epi8(32);
    w[0] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4)), m32);
    w[1] = _mm256_sub_epi8(
        _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4)), m32);
    for (int t = 0; t < 2; ++t) {  // ymm i = 2j + t covers sub-blocks 2i and 2i + 1
      const int i = 2 * j + t;
      q[t] = _mm256_sign_epi8(w[t], w[t]);
      s[t] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * i + 1]), _mm_set1_epi16(sc[2 * i]));
    }
  }
}

template <DType T, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* w, const float* bias) {
  constexpr bool kQ6 = T == DType::Q6_K;
  const int64_t k = a.k, nb = k / kQK_K;
  __m256 acc[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = w + b * dtype_block_bytes(T);
    alignas(32) int16_t sc[16], mins[16];  // sub-block scales; Q4_K: the min each of the 16 bsums multiplies
    float d, dmin = 0.f;
    if constexpr (kQ6) {
      const auto* x = reinterpret_cast<const BlockQ6_K*>(blk);
      for (int g = 0; g < 16; ++g) sc[g] = x->scales[g];
      d = half(x->d);
    } else {
      const auto* x = reinterpret_cast<const BlockQ4_K*>(blk);
      uint32_t sm[4];
      unpack_q4k_scales(x->scales, sm);
      uint8_t bytes[16];
      std::memcpy(bytes, sm, 16);
      for (int j = 0; j < 8; ++j) {
        sc[j] = bytes[j];
        mins[2 * j] = mins[2 * j + 1] = bytes[8 + j];
      }
      d = half(x->d);
      dmin = half(x->dmin);
    }
    __m256i s[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) s[c] = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      __m256i q[2], wv[2], scv[2];
      decode_chunk<T>(blk, sc, j, q, wv, scv);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const int8_t* ap = a.qs + (c0 + c) * k + b * kQK_K + 64 * j;
        for (int t = 0; t < 2; ++t) {
          __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ap + 32 * t));
          if constexpr (kQ6) av = _mm256_sign_epi8(av, wv[t]);
          s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q[t], av), scv[t]));
        }
      }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const float da = a.d[(c0 + c) * nb + b];
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[c]), _mm256_set1_ps(d * da), acc[c]);
      if constexpr (!kQ6) {
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums + (c0 + c) * (k / 16) + b * 16));
        const __m256i m = _mm256_madd_epi16(bs, _mm256_load_si256(reinterpret_cast<const __m256i*>(mins)));
        acc[c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(dmin * da), acc[c]);
      }
    }
  }
  const float bv = bias ? bias[0] : 0.f;
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(acc[c]), _mm256_extractf128_ps(acc[c], 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    out[c * ldo] = _mm_cvtss_f32(t) + bv;
  }
}

#else  // portable

constexpr int kTileC = 8;

template <DType T, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* w, const float* bias) {
  constexpr bool kQ6 = T == DType::Q6_K;
  const int64_t k = a.k, nb = k / kQK_K;
  float acc[C] = {};
  int8_t q[kQK_K];  // Q4_K: nibbles 0..15; Q6_K: q6 - 32
  int sc[16];       // Q4_K: 8 scales of 32 then 8 mins; Q6_K: 16 scales of 16
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = w + b * dtype_block_bytes(T);
    float d, dmin = 0.f;
    if constexpr (kQ6) {
      const auto* x = reinterpret_cast<const BlockQ6_K*>(blk);
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = x->ql + 64 * h;
        const uint8_t* qh = x->qh + 32 * h;
        int8_t* o = q + 128 * h;
        for (int l = 0; l < 32; ++l) {
          o[l] = static_cast<int8_t>(((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32);
          o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
          o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
      for (int g = 0; g < 16; ++g) sc[g] = x->scales[g];
      d = half(x->d);
    } else {
      const auto* x = reinterpret_cast<const BlockQ4_K*>(blk);
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 32; ++l) {
          q[64 * j + l] = static_cast<int8_t>(x->qs[32 * j + l] & 0xf);
          q[64 * j + 32 + l] = static_cast<int8_t>(x->qs[32 * j + l] >> 4);
        }
      }
      uint32_t sm[4];
      unpack_q4k_scales(x->scales, sm);
      uint8_t bytes[16];
      std::memcpy(bytes, sm, 16);
      for (int j = 0; j < 16; ++j) sc[j] = bytes[j];
      d = half(x->d);
      dmin = half(x->dmin);
    }
    for (int c = 0; c < C; ++c) {
      const int8_t* ap = a.qs + (c0 + c) * k + b * kQK_K;
      const int16_t* bs = a.bsums + (c0 + c) * (k / 16) + b * 16;
      const float da = a.d[(c0 + c) * nb + b];
      constexpr int kSub = kQ6 ? 16 : 32;
      int32_t s = 0;
      for (int g = 0; g < kQK_K / kSub; ++g) {
        int32_t dot = 0;
        for (int l = 0; l < kSub; ++l) dot += q[g * kSub + l] * ap[g * kSub + l];
        s += sc[g] * dot;
      }
      if constexpr (kQ6) {
        acc[c] += (d * da) * static_cast<float>(s);
      } else {
        int32_t mins = 0;
        for (int j = 0; j < 8; ++j) mins += sc[8 + j] * (bs[2 * j] + bs[2 * j + 1]);
        acc[c] += (d * da) * static_cast<float>(s) - (dmin * da) * static_cast<float>(mins);
      }
    }
  }
  const float bv = bias ? bias[0] : 0.f;
  for (int c = 0; c < C; ++c) out[c * ldo] = acc[c] + bv;
}

#endif

template <DType T>
void rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  const int64_t n = w.rows;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wr = w.row(r);
    const float* br = bias ? bias + r : nullptr;
    int64_t c = 0;
    for (; c + kTileC <= a.m; c += kTileC) tile<T, kTileC>(out + c * n + r, n, a, c, wr, br);
    float* o = out + c * n + r;
    switch (a.m - c) {  // the last rows of x
      case 1: tile<T, 1>(o, n, a, c, wr, br); break;
      case 2: tile<T, 2>(o, n, a, c, wr, br); break;
      case 3: tile<T, 3>(o, n, a, c, wr, br); break;
      case 4: if constexpr (kTileC > 4) tile<T, 4>(o, n, a, c, wr, br); break;
      case 5: if constexpr (kTileC > 5) tile<T, 5>(o, n, a, c, wr, br); break;
      case 6: if constexpr (kTileC > 6) tile<T, 6>(o, n, a, c, wr, br); break;
      case 7: if constexpr (kTileC > 7) tile<T, 7>(o, n, a, c, wr, br); break;
      default: break;
    }
  }
}

}  // namespace

void matmul_kquant_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  if (w.dtype == DType::Q4_K) rows<DType::Q4_K>(out, a, w, bias, r0, r1);
  else if (w.dtype == DType::Q6_K) rows<DType::Q6_K>(out, a, w, bias, r0, r1);
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
