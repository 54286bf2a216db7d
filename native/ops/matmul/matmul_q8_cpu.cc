// matmul kernels for Q8_0 and Q4_0 weights against Q8_0-quantized activations (see matmul.h).
//   out   [m, N] f32; rows [r0, r1) are written for every row of x
//   a.qs  [m, K] int8 activation quants, a.d [m, K/32] their fp16-rounded block scales
//   w     [N, K/32] blocks: BlockQ8_0 (w = d * q) or BlockQ4_0 (w = d * (nibble - 8))
// Per block, as ggml_vec_dot_q8_0_q8_0 / q4_0_q8_0: out += (fp16(d_w) * fp16(d_x)) * (exact int dot of 32).
// Integer dots take signed x signed bytes through unsigned x signed instructions: AVX-512 VNNI vpdpbusd
// on two blocks per zmm with activations offset to unsigned (a + 128, the offset removed exactly per
// lane); AVX2 vpmaddubsw + vpmaddwd with the sign trick |w| * (a with the sign of w).
// A tile of R weight rows x C activation rows decodes each weight block once for the C rows.
#include <cstring>

#include "core/dtype.h"
#include "ops/matmul/matmul_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

template <DType T>
constexpr int64_t block_bytes() {
  return T == DType::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
}

template <DType T>
float block_scale(const uint8_t* blk) {
  uint16_t h;
  std::memcpy(&h, blk, 2);  // d is the first field of both block types
#if KV_ISA == KV_ISA_AVX512 || KV_ISA == KV_ISA_AVX2
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32(h);
#endif
}

#if KV_ISA == KV_ISA_AVX512 || KV_ISA == KV_ISA_AVX2

// The 32 signed weights of one block, in element order.
template <DType T>
__m256i block_quants(const uint8_t* blk) {
  if constexpr (T == DType::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  } else {  // low nibbles are elements 0..15, high nibbles 16..31
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i lo = _mm_and_si128(x, _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), _mm_set1_epi8(0x0f));
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
  }
}

#endif

#if KV_ISA == KV_ISA_AVX512

// The 64 signed weights of blocks b and b + 1 (blk points at block b), in element order.
template <DType T>
__m512i pair_quants(const uint8_t* blk) {
  if constexpr (T == DType::Q8_0) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(block_quants<T>(blk)), block_quants<T>(blk + block_bytes<T>()), 1);
  } else {
    // 128-bit lanes [qs0, qs0, qs1, qs1]; odd lanes take the high nibbles (elements 16..31 of a block)
    const __m256i x = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + block_bytes<T>() + 2)), 1);
    __m512i z = _mm512_castsi256_si512(x);
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(1, 1, 0, 0));
    z = _mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4);
    return _mm512_sub_epi8(_mm512_and_si512(z, _mm512_set1_epi8(0x0f)), _mm512_set1_epi8(8));
  }
}

// Horizontal sum (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its own header).
float hsum(__m512 v) {
  __m256 s = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}

// Two consecutive blocks per zmm (one when kOne: the upper half is zero); int32 lanes 0..7 hold block
// b's partial sums, 8..15 block b+1's. This variant stores the activation quants as a + 128 (unsigned,
// see matmul_cpu.cc), so vpdpbusd takes them with the signed weights directly: each lane starts from
// -128 * (sum of its 4 weights), making it the exact centered sum of a * w, as ggml's lanes are.
template <DType T, int R, int C, bool kOne>
__attribute__((always_inline)) inline void step(__m512 (&acc)[R][C], const uint8_t* w, int64_t wstride, int64_t b,
                                                const int8_t* aq, const float* ad, int64_t k, int64_t nb) {
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512i wq[R], base[R];
  __m512 dw[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const uint8_t* blk = w + r * wstride + b * block_bytes<T>();
    if constexpr (kOne) {
      wq[r] = _mm512_zextsi256_si512(block_quants<T>(blk));
      dw[r] = _mm512_zextps256_ps512(_mm256_set1_ps(block_scale<T>(blk)));
    } else {
      wq[r] = pair_quants<T>(blk);
      // both fp16 scales converted at once, then spread to the lanes of their block
      uint16_t d0, d1;
      std::memcpy(&d0, blk, 2);
      std::memcpy(&d1, blk + block_bytes<T>(), 2);
      const __m128 d = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d0 | (uint32_t(d1) << 16))));
      dw[r] = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(d));
    }
    base[r] = _mm512_sub_epi32(_mm512_setzero_si512(),
                               _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(char(0x80)), wq[r]));
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    const int8_t* ap = aq + c * k + b * kQK8_0;
    const __m512i av = kOne ? _mm512_maskz_loadu_epi8(0xffffffffull, ap) : _mm512_loadu_si512(ap);
    const float* dp = ad + c * nb + b;
    const __m512 da = kOne ? _mm512_set1_ps(dp[0])
                           : _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_castsi128_ps(
                                                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(dp)))));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512i dot = _mm512_dpbusd_epi32(base[r], av, wq[r]);
      acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw[r], da), acc[r][c]);
    }
  }
}

template <DType T, int R, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* w, int64_t wstride, const float* bias) {
  const int64_t k = a.k, nb = k / kQK8_0;
  const int8_t* aq = a.qs + c0 * k;
  const float* ad = a.d + c0 * nb;
  __m512 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) step<T, R, C, false>(acc, w, wstride, b, aq, ad, k, nb);
  if (b < nb) step<T, R, C, true>(acc, w, wstride, b, aq, ad, k, nb);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const float bv = bias ? bias[r] : 0.f;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) out[c * ldo + r] = hsum(acc[r][c]) + bv;
  }
}

#elif KV_ISA == KV_ISA_AVX2

constexpr int kTileR = 2, kTileC = 2;

template <DType T, int R, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* w, int64_t wstride, const float* bias) {
  const int64_t k = a.k, nb = k / kQK8_0;
  const int8_t* aq = a.qs + c0 * k;
  const float* ad = a.d + c0 * nb;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i q[R], aw[R];
    float dw[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * wstride + b * block_bytes<T>();
      q[r] = block_quants<T>(blk);
      aw[r] = _mm256_sign_epi8(q[r], q[r]);
      dw[r] = block_scale<T>(blk);
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + c * k + b * kQK8_0));
      const float da = ad[c * nb + b];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        // |w| * sign(w) a: pairs of u8 x s8 products never saturate int16 (128 * 127 * 2 < 32768).
        const __m256i p16 = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(av, q[r]));
        const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
        acc[r][c] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw[r] * da), acc[r][c]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const float bv = bias ? bias[r] : 0.f;
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r][c]), _mm256_extractf128_ps(acc[r][c], 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      s = _mm_add_ss(s, _mm_movehdup_ps(s));
      out[c * ldo + r] = _mm_cvtss_f32(s) + bv;
    }
  }
}

#else  // portable

constexpr int kTileR = 1, kTileC = 8;

// Decodes one block to 32 signed weights.
template <DType T>
void block_quants(const uint8_t* blk, int8_t* q) {
  if constexpr (T == DType::Q8_0) {
    std::memcpy(q, blk + 2, kQK8_0);
  } else {
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      q[j] = static_cast<int8_t>((blk[2 + j] & 0x0f) - 8);
      q[j + 16] = static_cast<int8_t>((blk[2 + j] >> 4) - 8);
    }
  }
}

template <DType T, int R, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* w, int64_t /*wstride*/,
          const float* bias) {
  static_assert(R == 1, "portable tile is one weight row");
  const int64_t k = a.k, nb = k / kQK8_0;
  float acc[C] = {};
  int8_t q[kQK8_0];
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = w + b * block_bytes<T>();
    block_quants<T>(blk, q);
    const float dw = block_scale<T>(blk);
    for (int c = 0; c < C; ++c) {
      const int8_t* ap = a.qs + (c0 + c) * k + b * kQK8_0;
      int32_t sum = 0;
      for (int j = 0; j < kQK8_0; ++j) sum += q[j] * ap[j];
      acc[c] += (dw * a.d[(c0 + c) * nb + b]) * static_cast<float>(sum);
    }
  }
  const float bv = bias ? bias[0] : 0.f;
  for (int c = 0; c < C; ++c) out[c * ldo] = acc[c] + bv;
}

#endif

// Rows r..r+R-1 of the output for all m rows of x, in tiles of CM activation rows.
template <DType T, int R, int CM>
void row_tile_all_cols(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r) {
  const int64_t n = w.rows, rb = w.row_bytes();
  const uint8_t* wr = w.row(r);
  const float* br = bias ? bias + r : nullptr;
  int64_t c = 0;
  for (; c + CM <= a.m; c += CM) tile<T, R, CM>(out + c * n + r, n, a, c, wr, rb, br);
  float* o = out + c * n + r;
  switch (a.m - c) {  // the last rows of x
    case 1: tile<T, R, 1>(o, n, a, c, wr, rb, br); break;
    case 2: if constexpr (CM > 2) tile<T, R, 2>(o, n, a, c, wr, rb, br); break;
    case 3: if constexpr (CM > 3) tile<T, R, 3>(o, n, a, c, wr, rb, br); break;
    case 4: if constexpr (CM > 4) tile<T, R, 4>(o, n, a, c, wr, rb, br); break;
    case 5: if constexpr (CM > 5) tile<T, R, 5>(o, n, a, c, wr, rb, br); break;
    case 6: if constexpr (CM > 6) tile<T, R, 6>(o, n, a, c, wr, rb, br); break;
    case 7: if constexpr (CM > 7) tile<T, R, 7>(o, n, a, c, wr, rb, br); break;
    default: break;
  }
}

template <DType T, int R, int CM>
void rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  int64_t r = r0;
  for (; r + R <= r1; r += R) row_tile_all_cols<T, R, CM>(out, a, w, bias, r);
  if constexpr (R > 1)
    for (; r < r1; ++r) row_tile_all_cols<T, 1, CM>(out, a, w, bias, r);
}

template <DType T>
void rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  // Few rows of x (decode) are memory bound: one weight row at a time streams from DRAM much faster
  // than R interleaved rows (measured 24 vs 7 GB/s for Q8_0 on Zen 5). Many rows: a register tile.
  if (a.m < 4) {
    rows<T, 1, 4>(out, a, w, bias, r0, r1);
    return;
  }
#if KV_ISA == KV_ISA_AVX512
  rows<T, 2, 6>(out, a, w, bias, r0, r1);
#else
  rows<T, kTileR, kTileC>(out, a, w, bias, r0, r1);
#endif
}

}  // namespace

void matmul_q8_0_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t r0, int64_t r1) {
  if (w.dtype == DType::Q8_0) rows<DType::Q8_0>(out, a, w, bias, r0, r1);
  else if (w.dtype == DType::Q4_0) rows<DType::Q4_0>(out, a, w, bias, r0, r1);
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
