// Packed Q8_0 / Q4_0 weights for AVX-512 VNNI (see matmul.h, "Packed weights"): made once at load,
// read by every matmul, decode (m = 1) and batches alike, so a row's result never depends on m.
//
// Layout: weight rows in groups of 16 (the last group zero-padded); per group, its blocks in order,
// each block = 16 fp16 scales (32 bytes, row r of the group at r) then the quants in vpdpbusd order:
//   Q8_0: 8 vectors of 64 bytes; vector j holds k = 4j..4j+3 of each of the 16 rows, as uint8 q + 128.
//   Q4_0: 4 vectors of 64 bytes; vector t holds k = 8t..8t+3 (low nibbles) and 8t+4..8t+7 (high
//         nibbles) of each row, as the stored nibble (weight + 8).
// So a block is 544 (Q8_0) or 288 (Q4_0) bytes: exactly the bytes of the 16 original blocks.
//
// Kernel: out[c, 16 g + r] for a tile of G groups x C activation rows. Per block, 8 vpdpbusd per
// (group, activation row) with the 4 activation bytes broadcast: int32 lane r = sum (w + off) a over
// the block, exact; minus off * sum(a) (off = 128 or 8; sums made with the activations) gives the
// exact integer dot of ggml's block product. Then, as ggml: out += (fp16 d_w * fp16 d_x) * dot, one
// block after another. Each output is one lane's sequence of blocks whatever G, C and m are.
#include <cstring>

#include "core/dtype.h"
#include "ops/matmul/matmul.h"
#include "ops/matmul/matmul_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

constexpr int64_t kGroup = 16;

int64_t packed_block_bytes(DType t) { return t == DType::Q8_0 ? 32 + 8 * 64 : 32 + 4 * 64; }

[[maybe_unused]] bool packable(DType t) { return t == DType::Q8_0 || t == DType::Q4_0; }

// Packs groups [g0, g1) of w into dst (the whole packed buffer).
void pack_groups(uint8_t* dst, const WeightView& w, int64_t g0, int64_t g1) {
  const int64_t nb = w.cols / kQK8_0, bb = packed_block_bytes(w.dtype), src_bb = dtype_block_bytes(w.dtype);
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* gp = dst + g * nb * bb;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* p = gp + b * bb;
      std::memset(p, 0, static_cast<size_t>(bb));
      for (int64_t r = 0; r < kGroup; ++r) {
        const int64_t row = g * kGroup + r;
        uint8_t q[kQK8_0];  // Q8_0: q + 128; Q4_0: nibble (weight + 8)
        uint16_t d = 0;
        if (row < w.rows) {
          const uint8_t* blk = w.row(row) + b * src_bb;
          std::memcpy(&d, blk, 2);
          if (w.dtype == DType::Q8_0) {
            for (int i = 0; i < kQK8_0; ++i) q[i] = static_cast<uint8_t>(static_cast<int8_t>(blk[2 + i]) + 128);
          } else {
            for (int i = 0; i < kQK8_0 / 2; ++i) {
              q[i] = blk[2 + i] & 0x0f;
              q[i + 16] = blk[2 + i] >> 4;
            }
          }
        } else {  // padding rows: zero weights
          std::memset(q, w.dtype == DType::Q8_0 ? 128 : 8, sizeof(q));
        }
        std::memcpy(p + 2 * r, &d, 2);
        uint8_t* qs = p + 32;
        if (w.dtype == DType::Q8_0) {
          for (int j = 0; j < 8; ++j) std::memcpy(qs + 64 * j + 4 * r, q + 4 * j, 4);
        } else {
          for (int t = 0; t < 4; ++t)
            for (int i = 0; i < 4; ++i) qs[64 * t + 4 * r + i] = static_cast<uint8_t>(q[8 * t + i] | (q[8 * t + 4 + i] << 4));
        }
      }
    }
  }
}

#if KV_ISA == KV_ISA_AVX512

// G groups x C activation rows; out points at out[c0, 16 g0], rows of x at a.qs + c0 * k.
// `last_rows` (1..16) are stored of the tile's last group (the matrix's last group may be partial).
// prefetch: the next tile's groups (same stride), requested block by block into L2 while this tile
// computes, or nullptr.
template <DType T, int G, int C>
void tile(float* out, int64_t ldo, const MatmulActs& a, int64_t c0, const uint8_t* wg, int64_t gstride,
          const float* bias, int last_rows, const uint8_t* prefetch) {
  constexpr int64_t kBB = T == DType::Q8_0 ? 32 + 8 * 64 : 32 + 4 * 64;
  const int64_t k = a.k, nb = k / kQK8_0;
  const int8_t* aq = a.qs + c0 * k;
  const float* ad = a.d + c0 * nb;
  const int32_t* ac = a.corr + c0 * nb;
  __m512 f[G][C];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) f[g][c] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i acc[G][C];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_si512();
    const int8_t* ab = aq + b * kQK8_0;
    if (prefetch) {
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g)
        for (int64_t l = 0; l < kBB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(prefetch + g * gstride + b * kBB + l), _MM_HINT_T1);
    }
    if constexpr (T == DType::Q8_0) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m512i wv[G];
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) wv[g] = _mm512_loadu_si512(wg + g * gstride + b * kBB + 32 + 64 * j);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          int32_t a4;
          std::memcpy(&a4, ab + c * k + 4 * j, 4);
          const __m512i av = _mm512_set1_epi32(a4);
#pragma GCC unroll 4
          for (int g = 0; g < G; ++g) acc[g][c] = _mm512_dpbusd_epi32(acc[g][c], wv[g], av);
        }
      }
    } else {
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        __m512i lo[G], hi[G];
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) {
          const __m512i x = _mm512_loadu_si512(wg + g * gstride + b * kBB + 32 + 64 * t);
          lo[g] = _mm512_and_si512(x, m4);
          hi[g] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
        }
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          int32_t a4lo, a4hi;
          std::memcpy(&a4lo, ab + c * k + 8 * t, 4);
          std::memcpy(&a4hi, ab + c * k + 8 * t + 4, 4);
          const __m512i avl = _mm512_set1_epi32(a4lo), avh = _mm512_set1_epi32(a4hi);
#pragma GCC unroll 4
          for (int g = 0; g < G; ++g) {
            acc[g][c] = _mm512_dpbusd_epi32(acc[g][c], lo[g], avl);
            acc[g][c] = _mm512_dpbusd_epi32(acc[g][c], hi[g], avh);
          }
        }
      }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + g * gstride + b * kBB)));
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m512i dot = _mm512_sub_epi32(acc[g][c], _mm512_set1_epi32(ac[c * nb + b]));
        const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(ad[c * nb + b]));
        f[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, f[g][c]);
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

// Groups [g0, g0 + G) for all m rows of x, in tiles of CM rows.
template <DType T, int G, int CM>
void group_tile_all_rows(float* out, const MatmulActs& a, const WeightView& w, const uint8_t* packed, const float* bias,
                         int64_t g0) {
  const int64_t n = w.rows, nb = w.cols / kQK8_0, gstride = nb * packed_block_bytes(T);
  const uint8_t* wg = packed + g0 * gstride;
  const float* bg = bias ? bias + g0 * kGroup : nullptr;
  const int last_rows = static_cast<int>(std::min<int64_t>(kGroup, n - (g0 + G - 1) * kGroup));
  float* o = out + g0 * kGroup;
  // While the first rows of x run, the next tile's weights are requested (they come from memory;
  // this tile's stay in cache for the other rows of x). Only when this group is not the last.
  const int64_t groups = (n + kGroup - 1) / kGroup;
  const uint8_t* next = g0 + 2 * G <= groups ? wg + G * gstride : nullptr;
  int64_t c = 0;
  for (; c + CM <= a.m; c += CM) tile<T, G, CM>(o + c * n, n, a, c, wg, gstride, bg, last_rows, c == 0 ? next : nullptr);
  const uint8_t* pf = c == 0 ? next : nullptr;
  switch (a.m - c) {  // the last rows of x
    case 1: tile<T, G, 1>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    case 2: if constexpr (CM > 2) tile<T, G, 2>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    case 3: if constexpr (CM > 3) tile<T, G, 3>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    case 4: if constexpr (CM > 4) tile<T, G, 4>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    case 5: if constexpr (CM > 5) tile<T, G, 5>(o + c * n, n, a, c, wg, gstride, bg, last_rows, pf); break;
    default: break;
  }
}

template <DType T>
void groups(float* out, const MatmulActs& a, const WeightView& w, const uint8_t* packed, const float* bias, int64_t g0,
            int64_t g1) {
  int64_t g = g0;
  // Decode (few rows of x): 4 groups at once keep 4 weight streams and 4 vpdpbusd chains in flight.
  // Batches: 2 groups x 6 rows of x (12 int32 and 12 float accumulators).
  if (a.m <= 2) {
    for (; g + 4 <= g1; g += 4) group_tile_all_rows<T, 4, 2>(out, a, w, packed, bias, g);
  } else {
    for (; g + 2 <= g1; g += 2) group_tile_all_rows<T, 2, 6>(out, a, w, packed, bias, g);
  }
  for (; g < g1; ++g) group_tile_all_rows<T, 1, 6>(out, a, w, packed, bias, g);
}

#endif

}  // namespace

int64_t matmul_packed_q_bytes(const WeightView& w) {
#if KV_ISA == KV_ISA_AVX512
  if (!packable(w.dtype) || w.cols % kQK8_0 != 0) return 0;
  const int64_t groups = (w.rows + kGroup - 1) / kGroup;
  return groups * (w.cols / kQK8_0) * packed_block_bytes(w.dtype);
#else
  (void)w;
  return 0;  // only the AVX-512 variant has packed kernels
#endif
}

void matmul_pack_q(uint8_t* dst, const WeightView& w, ThreadPool& pool) {
  if (matmul_packed_q_bytes(w) == 0) return;
  const int64_t groups = (w.rows + kGroup - 1) / kGroup;
  pool.parallel_for(groups, 8, [&](int64_t g0, int64_t g1, int) { pack_groups(dst, w, g0, g1); });
}

void matmul_packed_q_rows(float* out, const MatmulActs& a, const WeightView& w, const float* bias, int64_t g0, int64_t g1) {
#if KV_ISA == KV_ISA_AVX512
  if (w.dtype == DType::Q8_0) groups<DType::Q8_0>(out, a, w, w.packed, bias, g0, g1);
  else if (w.dtype == DType::Q4_0) groups<DType::Q4_0>(out, a, w, w.packed, bias, g0, g1);
#else
  (void)out, (void)a, (void)w, (void)bias, (void)g0, (void)g1;
#endif
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
