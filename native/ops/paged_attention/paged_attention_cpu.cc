// CPU kernel for paged_attention (see paged_attention.h for what it computes, shapes and invariants).
//
// Work split: one task per (sequence, kv head, tile of R query rows), R = max(1, 16 / G) with
// G = n_heads / n_kv_heads, so a task owns M = rows x G query vectors (m = row * G + g) that all read
// the same K/V rows. Tasks are sorted longest first (rows x visited positions) and pulled from an
// atomic counter, so a long prefill tile never starts last on a busy thread.
//
// Per task, positions 0 .. C - L + row_end - 1 are visited in chunks of kChunk = 16 (one AVX-512
// vector of scores per query vector):
//   1. S[m, i] = (scale q_m) . K[p0 + i]: a register block of MB query vectors x NP positions; each K
//      chunk is loaded and f16/bf16-converted in registers once per block and used by MB FMAs.
//   2. online softmax: causal mask (row r sees p <= C - L + row_begin + r), running max, alpha =
//      exp(old max - new max) (exactly 1, no exp, when the max holds), P = exp(S - max), l = alpha l + sum P.
//   3. O[m, :] = alpha O[m, :] + sum_i P[m, i] V[p0 + i]: a register block of MB query vectors x DC
//      vectors of head_dim; each V vector is converted once and used by MB FMAs.
// Then out = O / l. Memory per task is O(M x head_dim): no [L, C] score matrix. The portable variant
// converts each chunk's f16/bf16 rows to f32 in scratch first and runs the same loops on scalars.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/paged_attention/paged_attention.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

constexpr int kChunk = 16;        // positions per online-softmax step
constexpr int kTileVectors = 16;  // target query vectors (rows x GQA heads) sharing each K/V load
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Cephes expf on vectors: 2^n * e^r with |r| <= ln2 / 2, degree-6 polynomial (about 1 ulp).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kExpP0 = 1.9875691500e-4f, kExpP1 = 1.3981999507e-3f, kExpP2 = 8.3334519073e-3f,
                kExpP3 = 4.1665795894e-2f, kExpP4 = 1.6666665459e-1f, kExpP5 = 5.0000001201e-1f;

// ---- vector layer: vec, W lanes, aligned scratch load/store, K/V row loads, reductions, exp ----
// Register blocks (MB query vectors x NP positions for scores, MB x DC vectors for P.V) are sized so
// accumulators + loaded K/V + one broadcast fit the register file (32 zmm, 16 ymm).
#if KV_ISA == KV_ISA_AVX512
using vec = __m512;
constexpr int W = 16;
constexpr int kScoreMB = 4, kScoreNP = 4, kScoreNP1 = 8, kPvMB = 4, kPvDC = 4;
inline vec vzero() { return _mm512_setzero_ps(); }
inline vec vset1(float x) { return _mm512_set1_ps(x); }
inline vec vload(const float* p) { return _mm512_load_ps(p); }  // 64-byte aligned scratch only
inline void vstore(float* p, vec v) { _mm512_store_ps(p, v); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline vec vmul(vec a, vec b) { return _mm512_mul_ps(a, b); }

template <DType T>  // 16 f16 or bf16 values -> f32
inline vec widen_kv(__m256i h) {
  if constexpr (T == DType::F16) return _mm512_cvtph_ps(h);
  else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
template <DType T>
inline vec load_kv(const void* row, int64_t d) {
  if constexpr (T == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(row) + d);
  } else {
    return widen_kv<T>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + d)));
  }
}
template <DType T>  // the first `count` (< W) elements, the rest zero; masked, so never reads past the row
inline vec load_kv_tail(const void* row, int64_t d, int64_t count) {
  const __mmask16 m = static_cast<__mmask16>((1u << count) - 1);
  if constexpr (T == DType::F32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + d);
  } else {
    return widen_kv<T>(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + d));
  }
}
// dst[0..3] = horizontal sums of a0..a3 (one unpack tree instead of four full reductions).
inline void store4(float* dst, vec a0, vec a1, vec a2, vec a3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512d d0 = _mm512_castps_pd(t0), d1 = _mm512_castps_pd(t1);
  const __m512 u = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(d0, d1)), _mm512_castpd_ps(_mm512_unpackhi_pd(d0, d1)));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
  _mm_storeu_ps(dst, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}
inline vec vexp(vec x) {
  x = _mm512_min_ps(_mm512_max_ps(_mm512_set1_ps(-104.0f), x), _mm512_set1_ps(88.0f));
  const vec n = _mm512_roundscale_ps(_mm512_mul_ps(x, vset1(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const vec r = _mm512_fnmadd_ps(n, vset1(kLn2Lo), _mm512_fnmadd_ps(n, vset1(kLn2Hi), x));
  vec p = vfma(vset1(kExpP0), r, vset1(kExpP1));
  p = vfma(p, r, vset1(kExpP2));
  p = vfma(p, r, vset1(kExpP3));
  p = vfma(p, r, vset1(kExpP4));
  p = vfma(p, r, vset1(kExpP5));
  p = vfma(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, vset1(1.0f)));
  return _mm512_scalef_ps(p, n);  // p * 2^n, underflowing gracefully to 0
}
inline __mmask16 first_lanes(int cnt) { return static_cast<__mmask16>(cnt >= 16 ? 0xffffu : (1u << cnt) - 1); }
// Max of s[0 .. cnt) (cnt >= 1) of a kChunk row.
inline float row_max(const float* s, int cnt) { return _mm512_mask_reduce_max_ps(first_lanes(cnt), vload(s)); }
// s[i] = exp(s[i] - mx) for i < cnt, 0 after; returns the sum.
inline float row_exp_sum(float* s, int cnt, float mx) {
  const vec p = _mm512_maskz_mov_ps(first_lanes(cnt), vexp(_mm512_sub_ps(vload(s), vset1(mx))));
  vstore(s, p);
  return _mm512_reduce_add_ps(p);
}

#elif KV_ISA == KV_ISA_AVX2
using vec = __m256;
constexpr int W = 8;
constexpr int kScoreMB = 2, kScoreNP = 4, kScoreNP1 = 4, kPvMB = 2, kPvDC = 4;
inline vec vzero() { return _mm256_setzero_ps(); }
inline vec vset1(float x) { return _mm256_set1_ps(x); }
inline vec vload(const float* p) { return _mm256_load_ps(p); }
inline void vstore(float* p, vec v) { _mm256_store_ps(p, v); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline vec vmul(vec a, vec b) { return _mm256_mul_ps(a, b); }

template <DType T>
inline vec load_kv(const void* row, int64_t d) {
  if constexpr (T == DType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + d);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + d));
    if constexpr (T == DType::F16) return _mm256_cvtph_ps(h);
    else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}
template <DType T>  // AVX2 has no 16-bit masked load: stage the partial vector through a zeroed buffer
inline vec load_kv_tail(const void* row, int64_t d, int64_t count) {
  constexpr size_t es = T == DType::F32 ? 4 : 2;
  alignas(32) unsigned char buf[32] = {};
  std::memcpy(buf, static_cast<const unsigned char*>(row) + d * static_cast<int64_t>(es), static_cast<size_t>(count) * es);
  return load_kv<T>(buf, 0);
}
inline void store4(float* dst, vec a0, vec a1, vec a2, vec a3) {
  const __m256 t0 = _mm256_add_ps(_mm256_unpacklo_ps(a0, a1), _mm256_unpackhi_ps(a0, a1));
  const __m256 t1 = _mm256_add_ps(_mm256_unpacklo_ps(a2, a3), _mm256_unpackhi_ps(a2, a3));
  const __m256d d0 = _mm256_castps_pd(t0), d1 = _mm256_castps_pd(t1);
  const __m256 u = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(d0, d1)), _mm256_castpd_ps(_mm256_unpackhi_pd(d0, d1)));
  _mm_storeu_ps(dst, _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1)));
}
inline vec vexp(vec x) {
  const vec lo = vset1(-87.33654f);  // below this exp(x) is not a normal float: flush to 0
  const vec tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(lo, x), vset1(88.0f));
  const vec n = _mm256_round_ps(_mm256_mul_ps(x, vset1(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const vec r = _mm256_fnmadd_ps(n, vset1(kLn2Lo), _mm256_fnmadd_ps(n, vset1(kLn2Hi), x));
  vec p = vfma(vset1(kExpP0), r, vset1(kExpP1));
  p = vfma(p, r, vset1(kExpP2));
  p = vfma(p, r, vset1(kExpP3));
  p = vfma(p, r, vset1(kExpP4));
  p = vfma(p, r, vset1(kExpP5));
  p = vfma(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, vset1(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}
inline vec lanes_below(int base, int cnt) {  // lane i set when base + i < cnt
  const vec idx = _mm256_add_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), vset1(static_cast<float>(base)));
  return _mm256_cmp_ps(idx, vset1(static_cast<float>(cnt)), _CMP_LT_OQ);
}
inline float hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}
inline float row_max(const float* s, int cnt) {
  const vec ninf = vset1(kNegInf);
  const vec a = _mm256_blendv_ps(ninf, vload(s), lanes_below(0, cnt));
  const vec b = _mm256_blendv_ps(ninf, vload(s + 8), lanes_below(8, cnt));
  const vec m = _mm256_max_ps(a, b);
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}
inline float row_exp_sum(float* s, int cnt, float mx) {
  const vec a = _mm256_and_ps(vexp(_mm256_sub_ps(vload(s), vset1(mx))), lanes_below(0, cnt));
  const vec b = _mm256_and_ps(vexp(_mm256_sub_ps(vload(s + 8), vset1(mx))), lanes_below(8, cnt));
  vstore(s, a);
  vstore(s + 8, b);
  return hsum(_mm256_add_ps(a, b));
}

#else  // portable: scalars (K/V rows are staged as f32 per chunk, see run_task)
using vec = float;
constexpr int W = 1;
constexpr int kScoreMB = 2, kScoreNP = 4, kScoreNP1 = 4, kPvMB = 2, kPvDC = 4;
inline vec vzero() { return 0.0f; }
inline vec vset1(float x) { return x; }
inline vec vload(const float* p) { return *p; }
inline void vstore(float* p, vec v) { *p = v; }
inline vec vfma(vec a, vec b, vec c) { return a * b + c; }
inline vec vmul(vec a, vec b) { return a * b; }
template <DType T>
inline vec load_kv(const void* row, int64_t d) {
  if constexpr (T == DType::F32) return static_cast<const float*>(row)[d];
  else if constexpr (T == DType::F16) return fp16_to_fp32(static_cast<const uint16_t*>(row)[d]);
  else return bf16_to_fp32(static_cast<const uint16_t*>(row)[d]);
}
template <DType T>  // never called: with W = 1 there is no partial vector
inline vec load_kv_tail(const void* row, int64_t d, int64_t) { return load_kv<T>(row, d); }
inline void store4(float* dst, vec a0, vec a1, vec a2, vec a3) { dst[0] = a0; dst[1] = a1; dst[2] = a2; dst[3] = a3; }
inline float row_max(const float* s, int cnt) {
  float m = s[0];
  for (int i = 1; i < cnt; ++i) m = std::max(m, s[i]);
  return m;
}
inline float row_exp_sum(float* s, int cnt, float mx) {
  float sum = 0.0f;
  for (int i = 0; i < kChunk; ++i) {
    s[i] = i < cnt ? std::exp(s[i] - mx) : 0.0f;
    sum += s[i];
  }
  return sum;
}
#endif

// ---- step 1: scores ----

// acc[m][p] += q_m[d .. d+W) * K[p][d .. d+W); Tail: only `tail` (< W) values remain in the rows.
// (A template, not a lambda: GCC does not apply the ISA target pragma to lambdas.)
template <DType T, int MB, int NP, bool Tail>
inline void score_step(vec (&acc)[MB][NP], const float* q, int64_t dp, const void* const* krow, int64_t d,
                       int64_t tail) {
  vec k[NP];
  for (int p = 0; p < NP; ++p) k[p] = Tail ? load_kv_tail<T>(krow[p], d, tail) : load_kv<T>(krow[p], d);
  for (int m = 0; m < MB; ++m) {
    const vec qv = vload(q + m * dp + d);  // zero-padded to dp, so a full load is fine in the tail
    for (int p = 0; p < NP; ++p) acc[m][p] = vfma(qv, k[p], acc[m][p]);
  }
}

// s[m * kChunk + p] = q_m . K[p] for MB query vectors (rows of q, stride dp) and NP positions.
template <DType T, int MB, int NP>
inline void score_tile(const float* q, int64_t dp, int64_t head_dim, const void* const* krow, float* s) {
  vec acc[MB][NP];
  for (int m = 0; m < MB; ++m)
    for (int p = 0; p < NP; ++p) acc[m][p] = vzero();
  int64_t d = 0;
  for (; d + W <= head_dim; d += W) score_step<T, MB, NP, false>(acc, q, dp, krow, d, 0);
  if (d < head_dim) score_step<T, MB, NP, true>(acc, q, dp, krow, d, head_dim - d);
  for (int m = 0; m < MB; ++m)
    for (int p = 0; p < NP; p += 4) store4(s + m * kChunk + p, acc[m][p], acc[m][p + 1], acc[m][p + 2], acc[m][p + 3]);
}

// Scores of all M query vectors against the chunk's n positions (entries past n are garbage; krow is
// padded to kChunk valid pointers, so position blocks may run past n).
template <DType T>
void chunk_scores(const float* qs, int M, int64_t dp, int64_t head_dim, const void* const* krow, int n, float* s) {
  int m = 0;
  if constexpr (kScoreMB >= 4) {
    for (; m + 4 <= M; m += 4)
      for (int p = 0; p < n; p += kScoreNP) score_tile<T, 4, kScoreNP>(qs + m * dp, dp, head_dim, krow + p, s + m * kChunk + p);
  }
  for (; m + 2 <= M; m += 2)
    for (int p = 0; p < n; p += kScoreNP) score_tile<T, 2, kScoreNP>(qs + m * dp, dp, head_dim, krow + p, s + m * kChunk + p);
  for (; m < M; ++m)
    for (int p = 0; p < n; p += kScoreNP1) score_tile<T, 1, kScoreNP1>(qs + m * dp, dp, head_dim, krow + p, s + m * kChunk + p);
}

// ---- step 3: O = alpha O + P V ----

// MB query vectors x DC vectors of head_dim starting at d. Tail: the last vector holds `tail` < W values.
template <DType T, int MB, int DC, bool Tail>
inline void pv_tile(float* o, int64_t dp, const float* p, const float* alpha, const void* const* vrow, int n,
                    int64_t d, int64_t tail) {
  vec acc[MB][DC];
  for (int m = 0; m < MB; ++m) {
    const vec a = vset1(alpha[m]);
    for (int c = 0; c < DC; ++c) acc[m][c] = vmul(vload(o + m * dp + d + c * W), a);
  }
  for (int i = 0; i < n; ++i) {
    vec v[DC];
    for (int c = 0; c < DC; ++c) {
      if constexpr (Tail) v[c] = c == DC - 1 ? load_kv_tail<T>(vrow[i], d + c * W, tail) : load_kv<T>(vrow[i], d + c * W);
      else v[c] = load_kv<T>(vrow[i], d + c * W);
    }
    for (int m = 0; m < MB; ++m) {
      const vec pb = vset1(p[m * kChunk + i]);
      for (int c = 0; c < DC; ++c) acc[m][c] = vfma(pb, v[c], acc[m][c]);
    }
  }
  for (int m = 0; m < MB; ++m)
    for (int c = 0; c < DC; ++c) vstore(o + m * dp + d + c * W, acc[m][c]);
}

template <DType T, int DC, bool Tail>
inline void rows_pv(float* o, int M, int64_t dp, const float* p, const float* alpha, const void* const* vrow, int n,
                    int64_t d, int64_t tail) {
  int m = 0;
  if constexpr (kPvMB >= 4) {
    for (; m + 4 <= M; m += 4) pv_tile<T, 4, DC, Tail>(o + m * dp, dp, p + m * kChunk, alpha + m, vrow, n, d, tail);
  }
  for (; m + 2 <= M; m += 2) pv_tile<T, 2, DC, Tail>(o + m * dp, dp, p + m * kChunk, alpha + m, vrow, n, d, tail);
  for (; m < M; ++m) pv_tile<T, 1, DC, Tail>(o + m * dp, dp, p + m * kChunk, alpha + m, vrow, n, d, tail);
}

template <DType T>
void chunk_pv(float* o, int M, int64_t dp, int64_t head_dim, const float* p, const float* alpha,
              const void* const* vrow, int n) {
  const int64_t full = head_dim / W * W;
  int64_t d = 0;
  for (; d + kPvDC * W <= full; d += kPvDC * W) rows_pv<T, kPvDC, false>(o, M, dp, p, alpha, vrow, n, d, 0);
  for (; d < full; d += W) rows_pv<T, 1, false>(o, M, dp, p, alpha, vrow, n, d, 0);
  if (d < head_dim) rows_pv<T, 1, true>(o, M, dp, p, alpha, vrow, n, d, head_dim - d);
}

// ---- tasks ----

struct Task {
  int64_t cost;  // ~ query vectors x positions visited, for longest-first ordering
  int32_t seq, kv_head, row_begin, row_end;
};

struct Params {
  const int32_t* query_start_loc;
  const int32_t* seq_lens;
  const int32_t* block_tables;
  const uint8_t* k_cache;
  const uint8_t* v_cache;
  int64_t max_blocks_per_seq, n_heads, n_kv_heads, group, head_dim, dp, block_size, elem_bytes, max_vectors;
  float scale;
};

inline int64_t pad16(int64_t n) { return (n + 15) & ~int64_t(15); }

// Floats of one thread's working region: q and O tiles, scores, max/sum/alpha, portable K/V staging.
inline int64_t region_floats(const Params& p) {
  return 2 * p.max_vectors * p.dp + p.max_vectors * kChunk + 3 * pad16(p.max_vectors) + 2 * kChunk * p.dp;
}

template <DType T>
void run_task(const Task& task, const Params& pr, float* region, float* out, const float* q) {
  // The portable variant converts f16/bf16 rows once per chunk instead of once per use.
  constexpr bool kStage = KV_ISA == KV_ISA_PORTABLE && T != DType::F32;
  constexpr DType TL = kStage ? DType::F32 : T;
  const int64_t G = pr.group, D = pr.head_dim, dp = pr.dp, mv = pr.max_vectors;
  const int64_t q0 = pr.query_start_loc[task.seq];
  const int64_t L = pr.query_start_loc[task.seq + 1] - q0;
  const int64_t ctx = pr.seq_lens[task.seq] - L;  // positions cached before this step's tokens
  const int rows = task.row_end - task.row_begin;
  const int M = static_cast<int>(rows * G);

  float* qs = region;
  float* o = qs + mv * dp;
  float* sc = o + mv * dp;
  float* mx = sc + mv * kChunk;
  float* l = mx + pad16(mv);
  float* alpha = l + pad16(mv);
  float* kbuf = alpha + pad16(mv);
  float* vbuf = kbuf + kChunk * dp;

  // q rows of this tile, scale folded in, zero-padded to dp; m = row * G + g.
  for (int r = 0; r < rows; ++r) {
    const float* src = q + ((q0 + task.row_begin + r) * pr.n_heads + task.kv_head * G) * D;
    for (int64_t g = 0; g < G; ++g) {
      float* dst = qs + (r * G + g) * dp;
      for (int64_t d = 0; d < D; ++d) dst[d] = src[g * D + d] * pr.scale;
      std::fill(dst + D, dst + dp, 0.0f);
    }
  }
  std::fill(o, o + M * dp, 0.0f);
  std::fill(mx, mx + M, kNegInf);
  std::fill(l, l + M, 0.0f);

  const int64_t limit0 = ctx + task.row_begin;  // last position visible to the tile's first row
  const int64_t kv_end = ctx + task.row_end;     // positions [0, kv_end) are read
  const int32_t* table = pr.block_tables + task.seq * pr.max_blocks_per_seq;
  const int64_t row_bytes = D * pr.elem_bytes;
  const int64_t block_bytes = pr.n_kv_heads * pr.block_size * row_bytes;
  const int64_t head_bytes = task.kv_head * pr.block_size * row_bytes;
  int64_t block_index = 0, offset = 0;  // position p0 in the block table
  const void* krow[kChunk];
  const void* vrow[kChunk];

  for (int64_t p0 = 0; p0 < kv_end; p0 += kChunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, kv_end - p0));
    for (int i = 0; i < n; ++i) {
      const int64_t at = table[block_index] * block_bytes + head_bytes + offset * row_bytes;
      krow[i] = pr.k_cache + at;
      vrow[i] = pr.v_cache + at;
      if (++offset == pr.block_size) offset = 0, ++block_index;
    }
    if constexpr (kStage) {
      for (int i = 0; i < n; ++i) {
        float* kd = kbuf + i * dp;
        float* vd = vbuf + i * dp;
        for (int64_t d = 0; d < D; ++d) kd[d] = load_kv<T>(krow[i], d), vd[d] = load_kv<T>(vrow[i], d);
        krow[i] = kd;
        vrow[i] = vd;
      }
    }
    for (int i = n; i < kChunk; ++i) krow[i] = krow[n - 1], vrow[i] = vrow[n - 1];  // padding, masked below

    chunk_scores<TL>(qs, M, dp, D, krow, n, sc);
    for (int m = 0; m < M; ++m) {
      float* sr = sc + m * kChunk;
      const int64_t visible = limit0 + m / G - p0 + 1;
      const int cnt = static_cast<int>(std::min<int64_t>(n, std::max<int64_t>(0, visible)));
      if (cnt == 0) {  // every position of the chunk is in this row's future
        std::fill(sr, sr + kChunk, 0.0f);
        alpha[m] = 1.0f;
        continue;
      }
      const float cmax = row_max(sr, cnt);
      float a = 1.0f;
      if (cmax > mx[m]) {
        a = mx[m] == kNegInf ? 0.0f : std::exp(mx[m] - cmax);
        mx[m] = cmax;
      }
      l[m] = l[m] * a + row_exp_sum(sr, cnt, mx[m]);
      alpha[m] = a;
    }
    chunk_pv<TL>(o, M, dp, D, sc, alpha, vrow, n);
  }

  for (int m = 0; m < M; ++m) {
    const int64_t r = m / G, g = m % G;
    float* dst = out + ((q0 + task.row_begin + r) * pr.n_heads + task.kv_head * G + g) * D;
    const float inv = 1.0f / l[m];
    for (int64_t d = 0; d < D; ++d) dst[d] = o[m * dp + d] * inv;
  }
}

template <DType T>
void run_tasks(const Task* tasks, int64_t num_tasks, const Params& pr, float* regions, int64_t region_stride,
               float* out, const float* q, ThreadPool& pool) {
  std::atomic<int64_t> next{0};
  auto worker = [&](int thread_index) {
    float* region = regions + thread_index * region_stride;
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < num_tasks;) {
      run_task<T>(tasks[i], pr, region, out, q);
    }
  };
  if (pool.num_threads() == 1 || num_tasks == 1) {
    worker(0);
  } else {
    // One item per thread; each pulls tasks until none are left, so uneven tasks balance.
    pool.parallel_for(pool.num_threads(), 1, [&](int64_t, int64_t, int thread_index) { worker(thread_index); });
  }
}

}  // namespace

void paged_attention_cpu(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                         const int32_t* query_start_loc, const int32_t* seq_lens, const int32_t* block_tables,
                         int64_t max_blocks_per_seq, int64_t num_seqs, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t block_size, float scale, ThreadPool& pool, Scratch& scratch) {
  const int64_t group = n_heads / n_kv_heads;
  const int64_t rows_per_task = std::max<int64_t>(1, kTileVectors / group);
  Params pr{query_start_loc, seq_lens, block_tables, static_cast<const uint8_t*>(k_cache),
            static_cast<const uint8_t*>(v_cache), max_blocks_per_seq, n_heads, n_kv_heads, group, head_dim,
            pad16(head_dim), block_size, dtype_block_bytes(kv_dtype), rows_per_task * group, scale};

  int64_t num_tasks = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t len = query_start_loc[s + 1] - query_start_loc[s];
    num_tasks += n_kv_heads * ((len + rows_per_task - 1) / rows_per_task);
  }
  if (num_tasks == 0) return;

  // One scratch allocation: the task list, then one 64-byte aligned region per pool thread.
  const int64_t threads = pool.num_threads();
  const int64_t tasks_bytes = (num_tasks * static_cast<int64_t>(sizeof(Task)) + 63) & ~int64_t(63);
  const int64_t region_stride = pad16(region_floats(pr));  // floats; 64-byte multiple
  auto* base = static_cast<uint8_t*>(scratch.get(static_cast<size_t>(tasks_bytes + threads * region_stride * 4)));
  Task* tasks = reinterpret_cast<Task*>(base);
  float* regions = reinterpret_cast<float*>(base + tasks_bytes);

  int64_t t = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t len = query_start_loc[s + 1] - query_start_loc[s];
    const int64_t ctx = seq_lens[s] - len;
    for (int64_t rb = 0; rb < len; rb += rows_per_task) {
      const int64_t re = std::min(len, rb + rows_per_task);
      for (int64_t h = 0; h < n_kv_heads; ++h) {
        tasks[t++] = Task{(re - rb) * (ctx + re), static_cast<int32_t>(s), static_cast<int32_t>(h),
                          static_cast<int32_t>(rb), static_cast<int32_t>(re)};
      }
    }
  }
  // std::sort does not allocate (stable_sort may); ties keep creation order for reproducible scheduling.
  std::sort(tasks, tasks + num_tasks, [](const Task& a, const Task& b) {
    if (a.cost != b.cost) return a.cost > b.cost;
    if (a.seq != b.seq) return a.seq < b.seq;
    return a.row_begin != b.row_begin ? a.row_begin < b.row_begin : a.kv_head < b.kv_head;
  });

  switch (kv_dtype) {
    case DType::F16: run_tasks<DType::F16>(tasks, num_tasks, pr, regions, region_stride, out, q, pool); break;
    case DType::BF16: run_tasks<DType::BF16>(tasks, num_tasks, pr, regions, region_stride, out, q, pool); break;
    default: run_tasks<DType::F32>(tasks, num_tasks, pr, regions, region_stride, out, q, pool); break;
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
