// CPU matmul entry point (see matmul.h): converts the activations once per call into scratch, exactly
// as llama.cpp's CPU backend does for the weight type, then splits the output rows N over the pool.
//   F16 / BF16 weights: x rounded to f16 / bf16 values (kept as f32, which holds them exactly)
//   Q8_0 / Q4_0:        x quantized to Q8_0 blocks (ggml x86 quantize_row_q8_0)
//   Q4_K / Q6_K:        x quantized to Q8_K blocks (ggml quantize_row_q8_K_ref), with bsums
// The per-family kernels live in matmul_{float,q8,kquant}_cpu.cc. Scratch is the only allocation.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "ops/add/add.h"
#include "ops/matmul/matmul.h"
#include "ops/matmul/matmul_internal.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/silu_mul/silu_mul.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

constexpr int64_t kRowUnit = 16;  // output rows per parallel work unit (a multiple of every kernel's row tile)

int64_t align64(int64_t bytes) { return (bytes + 63) & ~int64_t(63); }

// ---- F16 / BF16 rounding of x: dst[i] = (float)(half)src[i], round-to-nearest-even ----

void round_rows_f16(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = fp16_to_fp32(fp32_to_fp16(src[i]));
}

void round_rows_bf16(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  // Same bit arithmetic as fp32_to_bf16: add 0x7fff + lsb, truncate; NaN becomes quiet.
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff), hi = _mm512_set1_epi32(int32_t(0xffff0000u));
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(src + i);
    const __m512i x = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), one);
    __m512i r = _mm512_and_si512(_mm512_add_epi32(x, _mm512_add_epi32(bias, lsb)), hi);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_and_si512(x, hi), _mm512_set1_epi32(0x400000)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(r));
  }
#elif KV_ISA == KV_ISA_AVX2
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), hi = _mm256_set1_epi32(int32_t(0xffff0000u));
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(src + i);
    const __m256i x = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), one);
    const __m256i r = _mm256_and_si256(_mm256_add_epi32(x, _mm256_add_epi32(bias, lsb)), hi);
    const __m256i q = _mm256_or_si256(_mm256_and_si256(x, hi), _mm256_set1_epi32(0x400000));
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    _mm256_storeu_ps(dst + i, _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q), nan));
  }
#endif
  for (; i < n; ++i) dst[i] = bf16_to_fp32(fp32_to_bf16(src[i]));
}

// ---- Q8_0 activation blocks (ggml's x86 quantize_row_q8_0) ----
// amax = max |x|, d = amax / 127 (stored as fp16), q = round-half-even(x * (127 / amax)) saturated to int8.
// Returns the fp16-rounded d as f32. The AVX-512 variant stores q + 128 (see matmul_internal.h).

float round_to_fp16(float v) {
#if KV_ISA == KV_ISA_AVX512 || KV_ISA == KV_ISA_AVX2
  return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
  return fp16_to_fp32(fp32_to_fp16(v));
#endif
}

#if KV_ISA == KV_ISA_PORTABLE
// Round half to even (lrintf in the default rounding mode), saturated to int8.
int8_t round_sat_i8(float v) {
  if (v != v) return -128;  // NaN: what the x86 conversion + saturating packs give
  v = v < -128.f ? -128.f : (v > 127.f ? 127.f : v);
  return static_cast<int8_t>(std::lrintf(v));
}
#endif

// kSigned: store q itself and its sum in *sum (packed weights, matmul_packed_q_cpu.cc); otherwise the
// AVX-512 variant stores q + 128 for the vpdpbusd kernel of matmul_q8_cpu.cc.
template <bool kSigned = false>
float quantize_block_q8_0(const float* x, int8_t* q, int32_t* sum = nullptr) {
#if KV_ISA == KV_ISA_AVX512
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const __m512 s = _mm512_set1_ps(id);
  constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512i i0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, s), kRne);
  const __m512i i1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, s), kRne);
  const __m128i q0 = _mm512_cvtsepi32_epi8(i0), q1 = _mm512_cvtsepi32_epi8(i1);
  if constexpr (kSigned) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), q0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), q1);
    // The saturated quants summed (|x| * 127 / amax rounds to at most 127, so nothing saturates).
    const __m512i t = _mm512_add_epi32(_mm512_cvtepi8_epi32(q0), _mm512_cvtepi8_epi32(q1));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
    __m128i r = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(1, 0, 3, 2)));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(2, 3, 0, 1)));
    *sum = _mm_cvtsi128_si32(r);
  } else {
    const __m128i flip = _mm_set1_epi8(char(0x80));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm_xor_si128(q0, flip));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm_xor_si128(q1, flip));
  }
  return round_to_fp16(amax / 127.f);
#elif KV_ISA == KV_ISA_AVX2
  __m256 v[4];
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 mx = _mm256_setzero_ps();
  for (int j = 0; j < 4; ++j) {
    v[j] = _mm256_loadu_ps(x + 8 * j);
    mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[j]));
  }
  __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(mx, 1), _mm256_castps256_ps128(mx));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const __m256 s = _mm256_set1_ps(id);
  __m256i i[4];
  for (int j = 0; j < 4; ++j) i[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[j], s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  // packs work per 128-bit lane; the permute restores element order.
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  if constexpr (kSigned) {
    int32_t t = 0;
    for (int j = 0; j < kQK8_0; ++j) t += q[j];
    *sum = t;
  }
  return round_to_fp16(amax / 127.f);
#else
  float amax = 0.f;
  for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  int32_t t = 0;
  for (int j = 0; j < kQK8_0; ++j) t += (q[j] = round_sat_i8(x[j] * id));
  if constexpr (kSigned) *sum = t;
  return round_to_fp16(amax / 127.f);
#endif
}

// ---- Q8_K activation blocks (ggml quantize_row_q8_K_ref) ----
// max = the first element of largest magnitude (sign kept), iscale = -127 / max,
// q = min(127, nearest_int(iscale * x)), bsums = sums of 16 quants, d = 1 / iscale. All-zero block: d = 0.

float quantize_block_q8_K(const float* x, int8_t* q, int16_t* bsums) {
  float amax = 0.f, max = 0.f;
#if KV_ISA == KV_ISA_AVX512
  __m512 mx = _mm512_setzero_ps();
  for (int j = 0; j < kQK_K; j += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
  amax = _mm512_reduce_max_ps(mx);
  const __m512 va = _mm512_set1_ps(amax);
  for (int j = 0; j < kQK_K; j += 16) {
    const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), va, _CMP_EQ_OQ);
    if (hit) {
      max = x[j + __builtin_ctz(hit)];
      break;
    }
  }
#else
  for (int j = 0; j < kQK_K; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
#endif
  if (amax == 0.f) {
    std::memset(q, 0, kQK_K);
    std::memset(bsums, 0, sizeof(int16_t) * (kQK_K / 16));
    return 0.f;
  }
  const float iscale = -127.f / max;
#if KV_ISA == KV_ISA_AVX512
  const __m512 s = _mm512_set1_ps(iscale);
  const __m512i top = _mm512_set1_epi32(127);
  for (int j = 0; j < kQK_K; j += 16) {
    const __m512i v = _mm512_min_epi32(
        _mm512_cvt_roundps_epi32(_mm512_mul_ps(s, _mm512_loadu_ps(x + j)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), top);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), _mm512_cvtsepi32_epi8(v));
    bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(v));
  }
#else
  for (int j = 0; j < kQK_K; ++j) {
    // ggml's nearest_int rounds half to even. lrintf does the same with no add after the multiply: an
    // add could be contracted into an FMA (C++ allows it) and then round differently from ggml.
    const long v = std::lrintf(iscale * x[j]);
    q[j] = static_cast<int8_t>(v > 127 ? 127 : v);
  }
  for (int g = 0; g < kQK_K / 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += q[16 * g + l];
    bsums[g] = static_cast<int16_t>(sum);
  }
#endif
  return 1.f / iscale;
}

struct Prep {
  const float* x;
  const WeightView* w;
  float* f;
  int8_t* qs;
  float* d;
  int16_t* bsums;
  int32_t* corr;  // packed Q8_0 / Q4_0 weights: signed quants and offset * block sums
};

// Quantizes one row of input values (src, k of them) into row i of the activations.
void quantize_row(const Prep& p, int64_t i, const float* src) {
  const int64_t k = p.w->cols;
  switch (p.w->dtype) {
    case DType::Q8_0:
    case DType::Q4_0:
      if (p.corr) {
        const int32_t offset = p.w->dtype == DType::Q8_0 ? 128 : 8;  // what the packed weights store on top
        for (int64_t b = 0; b < k / kQK8_0; ++b) {
          const int64_t e = i * k + b * kQK8_0;
          int32_t sum = 0;
          p.d[e / kQK8_0] = quantize_block_q8_0<true>(src + b * kQK8_0, p.qs + e, &sum);
          p.corr[e / kQK8_0] = offset * sum;
        }
        return;
      }
      for (int64_t b = 0; b < k / kQK8_0; ++b) {
        const int64_t e = i * k + b * kQK8_0;
        p.d[e / kQK8_0] = quantize_block_q8_0(src + b * kQK8_0, p.qs + e);
      }
      return;
    case DType::Q4_K:
    case DType::Q6_K:
      for (int64_t b = 0; b < k / kQK_K; ++b) {
        const int64_t e = i * k + b * kQK_K;
        p.d[e / kQK_K] = quantize_block_q8_K(src + b * kQK_K, p.qs + e, p.bsums + e / 16);
        if (p.corr && p.w->dtype == DType::Q4_K) {  // packed Q4_K: the sums of 32 as int16 pairs
          const int16_t* bs = p.bsums + e / 16;
          for (int i2 = 0; i2 < 4; ++i2) {
            const int32_t s0 = bs[4 * i2] + bs[4 * i2 + 1], s1 = bs[4 * i2 + 2] + bs[4 * i2 + 3];
            p.corr[(e / kQK_K) * 4 + i2] = static_cast<int32_t>((static_cast<uint32_t>(s0) & 0xffffu) | (static_cast<uint32_t>(s1) << 16));
          }
        }
      }
      return;
    default:
      return;
  }
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void prepare_rows(const Prep& p, int64_t i0, int64_t i1) {
  const int64_t k = p.w->cols;
  switch (p.w->dtype) {
    case DType::F16:
      round_rows_f16(p.f + i0 * k, p.x + i0 * k, (i1 - i0) * k);
      break;
    case DType::BF16:
      round_rows_bf16(p.f + i0 * k, p.x + i0 * k, (i1 - i0) * k);
      break;
    case DType::F32:
      break;
    default:
      for (int64_t i = i0; i < i1; ++i) quantize_row(p, i, p.x + i * k);
      break;
  }
}

// The fused input op (matmul.h, MatmulPrologue) on rows [i0, i1), then their conversion. Float
// weights take the input rows in p.f itself; quantized ones go through the thread's row in `rows`.
void prologue_rows(const Prep& p, const MatmulPrologue& pro, float* x, float* rows, int64_t i0, int64_t i1, int thread) {
  const int64_t k = p.w->cols;
  const DType t = p.w->dtype;
  for (int64_t i = i0; i < i1; ++i) {
    float* in = is_float(t) ? p.f + i * k : rows + thread * k;
    float* xi = x + i * k;
    if (pro.kind == MatmulPrologue::Kind::RmsNorm) {
      if (pro.add) add_cpu(xi, xi, pro.add + i * k, k);
      rms_norm_cpu(in, xi, pro.norm_weight, 1, k, pro.eps);
    } else {
      silu_mul_cpu(in, xi, pro.up + i * k, k);
    }
    if (t == DType::F16) round_rows_f16(in, in, k);
    else if (t == DType::BF16) round_rows_bf16(in, in, k);
    else if (!is_float(t)) quantize_row(p, i, in);
  }
}

struct RowsJob {
  float* out;
  const MatmulActs* acts;
  const WeightView* w;
  const float* bias;
};

void run_rows(const RowsJob& job, int64_t r0, int64_t r1) {
  switch (job.w->dtype) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
      matmul_float_rows(job.out, *job.acts, *job.w, job.bias, r0, r1);
      break;
    case DType::Q8_0:
    case DType::Q4_0:
      matmul_q8_0_rows(job.out, *job.acts, *job.w, job.bias, r0, r1);
      break;
    case DType::Q4_K:
    case DType::Q6_K:
      matmul_kquant_rows(job.out, *job.acts, *job.w, job.bias, r0, r1);
      break;
  }
}

// Converts x for w's weight type into scratch (Scratch is the only allocation) and returns the view;
// with a prologue, makes the input rows from x first (matmul.h, MatmulPrologue).
MatmulActs prepare(float* x, const WeightView& w, int64_t m, ThreadPool& pool, Scratch& scratch,
                   const MatmulPrologue* pro = nullptr) {
  const int64_t k = w.cols;
  MatmulActs acts;
  acts.m = m;
  acts.k = k;
  Prep prep{x, &w, nullptr, nullptr, nullptr, nullptr, nullptr};
  float* rows = nullptr;  // prologue, quantized weights: one input row per thread
  if (is_float(w.dtype)) {
    if (w.dtype == DType::F32 && !pro) {
      acts.f = x;
    } else {
      prep.f = static_cast<float*>(scratch.get(static_cast<size_t>(m * k) * sizeof(float)));
      acts.f = prep.f;
    }
  } else {
    const int64_t block = dtype_block_elems(w.dtype);
    const int64_t qs_bytes = align64(m * k), d_bytes = align64(m * (k / block) * 4);
    const bool kq = block == kQK_K, packed = w.packed != nullptr;
    const int64_t bsums_bytes = kq ? align64(m * (k / 16) * 2) : 0;
    // packed: Q8_0/Q4_0 one int32 per block; Q4_K 4 per block (Q6_K reads the bsums)
    const int64_t corr_bytes = packed ? align64(m * (k / block) * 4 * (kq ? 4 : 1)) : 0;
    const int64_t rows_bytes = pro ? pool.num_threads() * k * static_cast<int64_t>(sizeof(float)) : 0;
    auto* base = static_cast<uint8_t*>(scratch.get(static_cast<size_t>(qs_bytes + d_bytes + bsums_bytes + corr_bytes + rows_bytes)));
    prep.qs = reinterpret_cast<int8_t*>(base);
    prep.d = reinterpret_cast<float*>(base + qs_bytes);
    prep.bsums = kq ? reinterpret_cast<int16_t*>(base + qs_bytes + d_bytes) : nullptr;
    prep.corr = packed ? reinterpret_cast<int32_t*>(base + qs_bytes + d_bytes + bsums_bytes) : nullptr;
    if (pro) rows = reinterpret_cast<float*>(base + qs_bytes + d_bytes + bsums_bytes + corr_bytes);
    acts.qs = prep.qs;
    acts.d = prep.d;
    acts.bsums = prep.bsums;
    acts.corr = prep.corr;
  }
  if (w.dtype == DType::F32 && !pro) return acts;
  const auto run = [&](int64_t i0, int64_t i1, int thread) {
    if (pro) prologue_rows(prep, *pro, x, rows, i0, i1, thread);
    else prepare_rows(prep, i0, i1);
  };
  // Converting x is O(m k) against the O(m n k) product: spread it only when there is a lot of it.
  const int64_t grain = std::max<int64_t>(1, 16384 / k);
  if (m * k >= 65536) {
    pool.parallel_for(m, grain, run);
  } else {
    run(0, m, 0);
  }
  return acts;
}

// Output rows per work unit of w: the packed layout's row groups (16) or panels (64), else kRowUnit.
int64_t row_unit(const WeightView& w) {
  if (!w.packed) return kRowUnit;
  return w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16 ? 64 : 16;
}

// Output rows [u0 * unit, u1 * unit) of one product (clipped to w.rows).
void run_units(float* out, const MatmulActs& acts, const WeightView& w, const float* bias, int64_t u0, int64_t u1) {
  if (!w.packed) {
    const RowsJob job{out, &acts, &w, bias};
    run_rows(job, u0 * kRowUnit, std::min(w.rows, u1 * kRowUnit));
    return;
  }
  switch (w.dtype) {
    case DType::Q8_0: case DType::Q4_0: matmul_packed_q_rows(out, acts, w, bias, u0, u1); break;
    case DType::Q4_K: case DType::Q6_K: matmul_packed_k_rows(out, acts, w, bias, u0, u1); break;
    default: matmul_packed_f_rows(out, acts, w, bias, u0, u1); break;
  }
}

// The products of `count` weights that share acts, as one pass over the pool: work units of all of
// them in one range, so small products (k and v) do not each pay for waking the pool.
void run_products(float* const* outs, const MatmulActs& acts, const WeightView* const* ws, const float* const* biases,
                  int count, ThreadPool& pool) {
  int64_t units[8], first[9] = {0}, macs = 0;
  for (int i = 0; i < count; ++i) {
    units[i] = (ws[i]->rows + row_unit(*ws[i]) - 1) / row_unit(*ws[i]);
    first[i + 1] = first[i] + units[i];
    macs += ws[i]->rows * acts.m * acts.k;
  }
  const int64_t total = first[count];
  const auto run = [&](int64_t u0, int64_t u1) {
    for (int i = 0; i < count && u0 < u1; ++i) {
      const int64_t b = std::max(u0, first[i]), e = std::min(u1, first[i + 1]);
      if (b < e) run_units(outs[i], acts, *ws[i], biases[i], b - first[i], e - first[i]);
    }
  };
  // Below ~256K multiply-adds (~10 us) waking a second thread costs more than it saves.
  if (pool.num_threads() == 1 || macs < (int64_t(1) << 18)) {
    run(0, total);
    return;
  }
  // Chunks of >= ~64K multiply-adds, claimed dynamically, so threads finish together.
  const int64_t unit_macs = std::max<int64_t>(1, macs / std::max<int64_t>(1, total));
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / unit_macs);
  pool.parallel_for(total, grain, [&run](int64_t u0, int64_t u1, int) { run(u0, u1); });
}

}  // namespace

void matmul_cpu(float* out, const float* x, const WeightView& w, const float* bias, int64_t m, ThreadPool& pool,
                Scratch& scratch) {
  if (m <= 0 || w.rows <= 0) return;
  // Without a prologue, prepare only reads x.
  const MatmulActs acts = prepare(const_cast<float*>(x), w, m, pool, scratch);
  const WeightView* ws[1] = {&w};
  run_products(&out, acts, ws, &bias, 1, pool);
}

void matmul_multi_cpu(float* const* outs, const float* x, const WeightView* const* ws, const float* const* biases,
                      int count, int64_t m, ThreadPool& pool, Scratch& scratch) {
  if (m <= 0 || count <= 0) return;
  const MatmulActs acts = prepare(const_cast<float*>(x), *ws[0], m, pool, scratch);
  for (int i = 0; i < count; i += 8) run_products(outs + i, acts, ws + i, biases + i, std::min(8, count - i), pool);
}

void matmul_prologue_cpu(float* const* outs, float* x, const MatmulPrologue& prologue, const WeightView* const* ws,
                         const float* const* biases, int count, int64_t m, ThreadPool& pool, Scratch& scratch) {
  if (m <= 0 || count <= 0) return;
  const MatmulActs acts = prepare(x, *ws[0], m, pool, scratch, &prologue);
  for (int i = 0; i < count; i += 8) run_products(outs + i, acts, ws + i, biases + i, std::min(8, count - i), pool);
}

int64_t matmul_packed_bytes(const WeightView& w) {
  switch (w.dtype) {
    case DType::Q8_0: case DType::Q4_0: return matmul_packed_q_bytes(w);
    case DType::Q4_K: case DType::Q6_K: return matmul_packed_k_bytes(w);
    default: return matmul_packed_f_bytes(w);
  }
}

void matmul_pack(uint8_t* dst, const WeightView& w, ThreadPool& pool) {
  switch (w.dtype) {
    case DType::Q8_0: case DType::Q4_0: matmul_pack_q(dst, w, pool); break;
    case DType::Q4_K: case DType::Q6_K: matmul_pack_k(dst, w, pool); break;
    default: matmul_pack_f(dst, w, pool); break;
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
