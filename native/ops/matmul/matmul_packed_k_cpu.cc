// Packed Q4_K / Q6_K weights for AVX-512 VNNI (see matmul.h, "Packed weights"), against Q8_K
// activations: made once at load, read by every matmul, decode and batches alike.
//
// Layout: weight rows in groups of 16 (the last group zero-padded); per group its 256-blocks in
// order. The quants are in vpdpbusd order: a 64-byte vector holds 4 consecutive k of each of the 16
// rows (row r at bytes 4r..4r+3), two vectors' worth of nibbles per 64 bytes (low nibbles: k..k+3,
// high nibbles: k+4..k+7).
//   Q4_K block (2368 bytes): d[16], dmin[16] (fp16), sc[8][16] (6-bit sub-block scales), mn pairs
//     [4][16][2] (mn of sub-blocks 2i, 2i+1 side by side), then per sub-block j of 32: 4 vectors of
//     nibbles (the stored 0..15).
//   Q6_K block (3360 bytes): d[16] (fp16), sc[16][16] (int8), then per sub-block s of 16: 2 vectors
//     of low nibbles, then per s one vector of the high 2 bits (bits 2v..2v+1 of byte 4r+i: k = 16s + 4v + i).
// Both hold the same bytes as the 16 original blocks (+64 for Q4_K's unpacked scales).
//
// Per block and row, exact integers as ggml's vec_dot_q4_K_q8_K / q6_K_q8_K:
//   Q4_K: sumi = sum_j sc_j dot(q_j, a_j); mins = sum_j mn_j (bsum_2j + bsum_2j+1)
//         out += (d dx) sumi - (dmin dx) mins
//   Q6_K: sumi = sum_s sc_s (dot(q6_s, a_s) - 32 bsum_s)          out += (d dx) sumi
// block after block, one output lane per row whatever the tile and m are.
#include <cstring>

#include "core/dtype.h"
#include "ops/matmul/matmul.h"
#include "ops/matmul/matmul_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

constexpr int64_t kGroup = 16;
constexpr int64_t kQ4KBytes = 32 + 32 + 128 + 128 + 2048;
constexpr int64_t kQ6KBytes = 32 + 256 + 2048 + 1024;

[[maybe_unused]] bool packable(DType t) { return t == DType::Q4_K || t == DType::Q6_K; }
int64_t packed_block_bytes(DType t) { return t == DType::Q4_K ? kQ4KBytes : kQ6KBytes; }

// get_scale_min_k4 for all 8 sub-blocks.
void q4k_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = s[j] & 63;
      mn[j] = s[j + 4] & 63;
    } else {
      sc[j] = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
      mn[j] = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
  }
}

// The 256 quants of a block in element order: Q4_K nibbles 0..15, Q6_K 0..63 (weight + 32).
void block_quants(DType t, const uint8_t* blk, uint8_t q[kQK_K]) {
  if (t == DType::Q4_K) {
    const auto* x = reinterpret_cast<const BlockQ4_K*>(blk);
    for (int jj = 0; jj < 4; ++jj) {
      for (int l = 0; l < 32; ++l) {
        q[64 * jj + l] = x->qs[32 * jj + l] & 0xF;
        q[64 * jj + 32 + l] = x->qs[32 * jj + l] >> 4;
      }
    }
  } else {
    const auto* x = reinterpret_cast<const BlockQ6_K*>(blk);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x->ql + 64 * h;
      const uint8_t* qh = x->qh + 32 * h;
      uint8_t* o = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<uint8_t>((ql[l] & 0xF) | ((qh[l] & 3) << 4));
        o[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
        o[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        o[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
    }
  }
}

void pack_groups(uint8_t* dst, const WeightView& w, int64_t g0, int64_t g1) {
  const int64_t nb = w.cols / kQK_K, bb = packed_block_bytes(w.dtype), src_bb = dtype_block_bytes(w.dtype);
  const bool q4 = w.dtype == DType::Q4_K;
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* p = dst + (g * nb + b) * bb;
      std::memset(p, 0, static_cast<size_t>(bb));
      for (int64_t r = 0; r < kGroup; ++r) {
        const int64_t row = g * kGroup + r;
        uint8_t q[kQK_K];
        if (row >= w.rows) {  // padding rows: d = 0 and the quants of weight 0
          std::memset(q, q4 ? 0 : 32, sizeof(q));
        } else {
          const uint8_t* blk = w.row(row) + b * src_bb;
          block_quants(w.dtype, blk, q);
          if (q4) {
            const auto* x = reinterpret_cast<const BlockQ4_K*>(blk);
            std::memcpy(p + 2 * r, &x->d, 2);
            std::memcpy(p + 32 + 2 * r, &x->dmin, 2);
            uint8_t sc[8], mn[8];
            q4k_scales(x->scales, sc, mn);
            for (int j = 0; j < 8; ++j) {
              p[64 + 16 * j + r] = sc[j];
              p[192 + 32 * (j / 2) + 2 * r + (j % 2)] = mn[j];
            }
          } else {
            const auto* x = reinterpret_cast<const BlockQ6_K*>(blk);
            std::memcpy(p + 2 * r, &x->d, 2);
            for (int s = 0; s < 16; ++s) p[32 + 16 * s + r] = static_cast<uint8_t>(x->scales[s]);
          }
        }
        if (q4) {
          uint8_t* qs = p + 320;
          for (int v = 0; v < 32; ++v)  // vector v: k = 8v .. 8v+7
            for (int i = 0; i < 4; ++i) qs[64 * v + 4 * r + i] = static_cast<uint8_t>(q[8 * v + i] | (q[8 * v + 4 + i] << 4));
        } else {
          uint8_t* lo = p + 288;
          uint8_t* hi = p + 288 + 2048;
          for (int v = 0; v < 32; ++v)
            for (int i = 0; i < 4; ++i)
              lo[64 * v + 4 * r + i] = static_cast<uint8_t>((q[8 * v + i] & 0xF) | ((q[8 * v + 4 + i] & 0xF) << 4));
          for (int s = 0; s < 16; ++s)
            for (int i = 0; i < 4; ++i) {
              uint8_t h = 0;
              for (int v = 0; v < 4; ++v) h = static_cast<uint8_t>(h | ((q[16 * s + 4 * v + i] >> 4) << (2 * v)));
              hi[64 * s + 4 * r + i] = h;
            }
        }
      }
    }
  }
}

#if KV_ISA == KV_ISA_AVX512

__attribute__((always_inline)) inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// G groups x C activation rows; out at out[c0, 16 g0].
// prefetch: the next tile's groups, requested block by block into L2 while this tile computes, or nullptr.
template <DType T, int G, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* wg, int64_t gstride,
          const float* bias, int last_rows, const uint8_t* prefetch) {
  constexpr bool kQ4 = T == DType::Q4_K;
  constexpr int64_t kBB = kQ4 ? kQ4KBytes : kQ6KBytes;
  const int64_t k = a.k, nb = k / kQK_K;
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  __m512 f[G][C];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) f[g][c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i sumi[G][C];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) sumi[g][c] = _mm512_setzero_si512();
    const int8_t* ab = a.qs + c0 * k + b * kQK_K;
    if (prefetch) {
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g)
        for (int64_t l = 0; l < kBB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(prefetch + g * gstride + b * kBB + l), _MM_HINT_T1);
    }
    constexpr int kSubs = kQ4 ? 8 : 16;
    for (int s = 0; s < kSubs; ++s) {
      __m512i acc[G][C];
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_si512();
      constexpr int kPairs = kQ4 ? 4 : 2;  // 64-byte nibble vectors per sub-block (2 quads each)
#pragma GCC unroll 4
      for (int t = 0; t < kPairs; ++t) {
        __m512i lo[G], hi[G];
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) {
          const uint8_t* blk = wg + g * gstride + b * kBB;
          const __m512i x = _mm512_loadu_si512(blk + (kQ4 ? 320 : 288) + 64 * (kPairs * s + t));
          lo[g] = _mm512_and_si512(x, m4);
          hi[g] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
          if constexpr (!kQ4) {  // add the high 2 bits: quads 2t and 2t+1 of the sub-block
            const __m512i h = _mm512_loadu_si512(blk + 288 + 2048 + 64 * s);
            const __m512i h0 = t == 0 ? _mm512_slli_epi16(h, 4) : h;
            const __m512i h1 = t == 0 ? _mm512_slli_epi16(h, 2) : _mm512_srli_epi16(h, 2);
            lo[g] = _mm512_or_si512(lo[g], _mm512_and_si512(h0, m30));
            hi[g] = _mm512_or_si512(hi[g], _mm512_and_si512(h1, m30));
          }
        }
        const int64_t e = (kQ4 ? 32 : 16) * s + 8 * t;  // first k of the pair
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512i al = bcast4(ab + c * k + e), ah = bcast4(ab + c * k + e + 4);
#pragma GCC unroll 4
          for (int g = 0; g < G; ++g) {
            acc[g][c] = _mm512_dpbusd_epi32(acc[g][c], lo[g], al);
            acc[g][c] = _mm512_dpbusd_epi32(acc[g][c], hi[g], ah);
          }
        }
      }
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) {
        const uint8_t* blk = wg + g * gstride + b * kBB;
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (kQ4 ? 64 : 32) + 16 * s));
        const __m512i sc = kQ4 ? _mm512_cvtepu8_epi32(sc8) : _mm512_cvtepi8_epi32(sc8);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          __m512i dot = acc[g][c];
          if constexpr (!kQ4) {  // q6 is weight + 32: remove 32 * sum(a) of the sub-block
            dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(32 * a.bsums[(c0 + c) * (k / 16) + b * 16 + s]));
          }
          sumi[g][c] = _mm512_add_epi32(sumi[g][c], _mm512_mullo_epi32(dot, sc));
        }
      }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const uint8_t* blk = wg + g * gstride + b * kBB;
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
      __m512i mn[4];
      __m512 dmin = _mm512_setzero_ps();
      if constexpr (kQ4) {
        dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
        for (int i = 0; i < 4; ++i)
          mn[i] = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 192 + 32 * i)));
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const float dx = a.d[(c0 + c) * nb + b];
        f[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[g][c]), _mm512_mul_ps(d, _mm512_set1_ps(dx)), f[g][c]);
        if constexpr (kQ4) {
          // mins: pairs (mn_2i, mn_2i+1) x (s_2i, s_2i+1), s_j = bsum_2j + bsum_2j+1 (made with the activations)
          const int32_t* sp = a.corr + ((c0 + c) * nb + b) * 4;
          __m512i m = _mm512_setzero_si512();
          for (int i = 0; i < 4; ++i) m = _mm512_dpwssd_epi32(m, mn[i], _mm512_set1_epi32(sp[i]));
          f[g][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dmin, _mm512_set1_ps(dx)), f[g][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    const __mmask16 mask = g == G - 1 ? static_cast<__mmask16>((1u << last_rows) - 1) : static_cast<__mmask16>(0xffff);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + 16 * g) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(out + c * ldo + 16 * g, mask, _mm512_add_ps(f[g][c], bv));
  }
}

template <DType T, int G, int CM>
void group_tile_all_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t g0) {
  const int64_t n = w.rows, gstride = (w.cols / kQK_K) * packed_block_bytes(T);
  const uint8_t* wg = w.packed + g0 * gstride;
  const float* bg = bias ? bias + g0 * kGroup : nullptr;
  const int last_rows = static_cast<int>(std::min<int64_t>(kGroup, n - (g0 + G - 1) * kGroup));
  float* o = out + g0 * kGroup;
  const int64_t groups = (n + kGroup - 1) / kGroup;
  const uint8_t* next = g0 + 2 * G <= groups ? wg + G * gstride : nullptr;  // see matmul_packed_q_cpu.cc
  int64_t c = 0;
  for (; c + CM <= a.m; c += CM) tile<T, G, CM>(o + c * n, n, a, c, wg, gstride, bg, last_rows, c == 0 ? next : nullptr);
  const uint8_t* pf = c == 0 ? next : nullptr;
  switch (a.m - c) {
    case 1: tile<T, G, 1>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    case 2: if constexpr (CM > 2) tile<T, G, 2>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    case 3: if constexpr (CM > 3) tile<T, G, 3>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    default: break;
  }
}

template <DType T>
void groups(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t g0, int64_t g1) {
  int64_t g = g0;
  // Decode: 2 groups per tile keep two weight streams going; batches: 2 groups x 4 rows of x.
  if (a.m <= 2) {
    for (; g + 2 <= g1; g += 2) group_tile_all_rows<T, 2, 2>(out, a, w, bias, g);
  } else {
    for (; g + 2 <= g1; g += 2) group_tile_all_rows<T, 2, 4>(out, a, w, bias, g);
  }
  for (; g < g1; ++g) group_tile_all_rows<T, 1, 4>(out, a, w, bias, g);
}

#endif

}  // namespace

int64_t matmul_packed_k_bytes(const WeightView& w) {
#if KV_ISA == KV_ISA_AVX512
  if (!packable(w.dtype) || w.cols % kQK_K != 0) return 0;
  return (w.rows + kGroup - 1) / kGroup * (w.cols / kQK_K) * packed_block_bytes(w.dtype);
#else
  (void)w;
  return 0;
#endif
}

void matmul_pack_k(uint8_t* dst, const WeightView& w, ThreadPool& pool) {
  if (matmul_packed_k_bytes(w) == 0) return;
  const int64_t groups = (w.rows + kGroup - 1) / kGroup;
  pool.parallel_for(groups, 4, [&](int64_t g0, int64_t g1, int) { pack_groups(dst, w, g0, g1); });
}

void matmul_packed_k_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t g0, int64_t g1) {
#if KV_ISA == KV_ISA_AVX512
  if (w.dtype == DType::Q4_K) groups<DType::Q4_K>(out, a, w, bias, g0, g1);
  else if (w.dtype == DType::Q6_K) groups<DType::Q6_K>(out, a, w, bias, g0, g1);
#else
  (void)out, (void)a, (void)w, (void)bias, (void)g0, (void)g1;
#endif
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
