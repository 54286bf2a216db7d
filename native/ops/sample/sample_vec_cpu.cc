// Row primitives of the sample op (declared in sample_internal.h): full-vocab passes that dominate its
// cost (sanitize + max, sum of exp, candidate gathering, top-n prefilter, the exponential race).
// Shapes: x is one logits row [n] f32. Each function has one body written against a small SIMD
// wrapper (16 lanes AVX-512, 8 lanes AVX2) plus a scalar tail, which is the whole loop in the
// portable variant. The vector exp/log are Cephes-style polynomials (~2 ulp); the scalar path uses
// libm. Both are deterministic, so a given row always gets the same result on a given ISA.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>

#include "ops/sample/sample_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

using sample_detail::better;
using sample_detail::Candidate;
using sample_detail::exponential_from_bits;
using sample_detail::token_bits;

constexpr float kInf = std::numeric_limits<float>::infinity();

#if KV_ISA == KV_ISA_AVX512
struct Simd {
  static constexpr int kWidth = 16;
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  // maskz forms: the plain ones pass an undefined vector that gcc 12 flags with -Wuninitialized.
  static F max(F a, F b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
  static F min(F a, F b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a * b
  static F round(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M unord(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M lei(I a, I b) { return _mm512_cmple_epi32_mask(a, b); }
  static M sign_mask(I a) { return _mm512_movepi32_mask(a); }
  static M mand(M a, M b) { return a & b; }
  static M mor(M a, M b) { return a | b; }
  static unsigned bits(M m) { return m; }
  static F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }  // m ? a : b
  static I selecti(M m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }
  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static I subi(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I xori(I a, I b) { return _mm512_xor_si512(a, b); }
  static I andi(I a, I b) { return _mm512_and_si512(a, b); }
  static I ori(I a, I b) { return _mm512_or_si512(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  template <int N> static I srli(I a) { return _mm512_srli_epi32(a, N); }
  template <int N> static I srai(I a) { return _mm512_srai_epi32(a, N); }
  template <int N> static I slli(I a) { return _mm512_slli_epi32(a, N); }
  static F cvti(I a) { return _mm512_cvtepi32_ps(a); }
  static I cvtf(F a) { return _mm512_cvtps_epi32(a); }
  static F asf(I a) { return _mm512_castsi512_ps(a); }
  static I asi(F a) { return _mm512_castps_si512(a); }
  // Reductions through memory: gcc 12's _mm512_reduce_* trip -Wuninitialized too.
  // Every lane = the maximum over lanes.
  static F allmax(F v) {
    v = max(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    v = max(v, _mm512_shuffle_f32x4(v, v, 0xB1));
    v = max(v, _mm512_permute_ps(v, 0x4E));
    return max(v, _mm512_permute_ps(v, 0xB1));
  }
  static float hmax(F v) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    float m = lanes[0];
    for (int l = 1; l < 16; ++l) m = lanes[l] > m ? lanes[l] : m;
    return m;
  }
  // Double accumulator (two halves), for sums of many exp values.
  struct Acc {
    __m512d lo, hi;
    Acc() : lo(_mm512_setzero_pd()), hi(_mm512_setzero_pd()) {}  // explicit: gcc's target pragma skips implicit ones
    void add(F v) {
      lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
      hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
    }
    double sum() const {
      alignas(64) double lanes[8];
      _mm512_store_pd(lanes, _mm512_add_pd(lo, hi));
      return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }
  };
};
#elif KV_ISA == KV_ISA_AVX2
struct Simd {
  static constexpr int kWidth = 8;
  using F = __m256;
  using I = __m256i;
  using M = __m256;  // all-ones lanes
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
  static F round(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M unord(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static M lei(I a, I b) { return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpgt_epi32(a, b), _mm256_set1_epi32(-1))); }
  static M sign_mask(I a) { return _mm256_castsi256_ps(_mm256_srai_epi32(a, 31)); }
  static M mand(M a, M b) { return _mm256_and_ps(a, b); }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static unsigned bits(M m) { return static_cast<unsigned>(_mm256_movemask_ps(m)); }
  static F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, m); }
  static I selecti(M m, I a, I b) { return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m)); }
  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static I subi(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I xori(I a, I b) { return _mm256_xor_si256(a, b); }
  static I andi(I a, I b) { return _mm256_and_si256(a, b); }
  static I ori(I a, I b) { return _mm256_or_si256(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  template <int N> static I srli(I a) { return _mm256_srli_epi32(a, N); }
  template <int N> static I srai(I a) { return _mm256_srai_epi32(a, N); }
  template <int N> static I slli(I a) { return _mm256_slli_epi32(a, N); }
  static F cvti(I a) { return _mm256_cvtepi32_ps(a); }
  static I cvtf(F a) { return _mm256_cvtps_epi32(a); }
  static F asf(I a) { return _mm256_castsi256_ps(a); }
  static I asi(F a) { return _mm256_castps_si256(a); }
  static F allmax(F v) {
    v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 0x01));
    v = _mm256_max_ps(v, _mm256_permute_ps(v, 0x4E));
    return _mm256_max_ps(v, _mm256_permute_ps(v, 0xB1));
  }
  static float hmax(F v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
  }
  struct Acc {
    __m256d lo, hi;
    Acc() : lo(_mm256_setzero_pd()), hi(_mm256_setzero_pd()) {}  // explicit: gcc's target pragma skips implicit ones
    void add(F v) {
      lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double sum() const {
      alignas(32) double lanes[4];
      _mm256_store_pd(lanes, _mm256_add_pd(lo, hi));
      return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    }
  };
};
#endif

#if KV_ISA != KV_ISA_PORTABLE
using F = Simd::F;
using I = Simd::I;
constexpr int W = Simd::kWidth;

// exp(x) for x <= 88; exactly 0 below -87.3 (so -inf, i.e. a banned token, weighs nothing).
inline F vexp(F x) {
  const F lo = Simd::set1(-87.33654f);
  const auto under = Simd::lt(x, lo);
  x = Simd::min(Simd::max(x, lo), Simd::set1(88.0f));
  const F n = Simd::round(Simd::mul(x, Simd::set1(1.44269504088896341f)));
  F r = Simd::fnmadd(n, Simd::set1(0.693359375f), x);
  r = Simd::fnmadd(n, Simd::set1(-2.12194440e-4f), r);
  F p = Simd::set1(1.9875691500e-4f);
  p = Simd::fmadd(p, r, Simd::set1(1.3981999507e-3f));
  p = Simd::fmadd(p, r, Simd::set1(8.3334519073e-3f));
  p = Simd::fmadd(p, r, Simd::set1(4.1665795894e-2f));
  p = Simd::fmadd(p, r, Simd::set1(1.6666665459e-1f));
  p = Simd::fmadd(p, r, Simd::set1(5.0000001201e-1f));
  p = Simd::fmadd(p, Simd::mul(r, r), Simd::add(r, Simd::set1(1.0f)));
  const I e = Simd::slli<23>(Simd::addi(Simd::cvtf(n), Simd::set1i(127)));
  return Simd::select(under, Simd::set1(0.0f), Simd::mul(p, Simd::asf(e)));
}

// log(x) for positive normal x.
inline F vlog(F x) {
  const F one = Simd::set1(1.0f), zero = Simd::set1(0.0f);
  const I xi = Simd::asi(x);
  F e = Simd::cvti(Simd::subi(Simd::srli<23>(xi), Simd::set1i(126)));
  F m = Simd::asf(Simd::ori(Simd::andi(xi, Simd::set1i(0x007FFFFF)), Simd::set1i(0x3F000000)));  // [0.5, 1)
  const auto small = Simd::lt(m, Simd::set1(0.707106781186547524f));
  e = Simd::sub(e, Simd::select(small, one, zero));
  m = Simd::sub(Simd::add(m, Simd::select(small, m, zero)), one);
  const F z = Simd::mul(m, m);
  F y = Simd::set1(7.0376836292e-2f);
  y = Simd::fmadd(y, m, Simd::set1(-1.1514610310e-1f));
  y = Simd::fmadd(y, m, Simd::set1(1.1676998740e-1f));
  y = Simd::fmadd(y, m, Simd::set1(-1.2420140846e-1f));
  y = Simd::fmadd(y, m, Simd::set1(1.4249322787e-1f));
  y = Simd::fmadd(y, m, Simd::set1(-1.6668057665e-1f));
  y = Simd::fmadd(y, m, Simd::set1(2.0000714765e-1f));
  y = Simd::fmadd(y, m, Simd::set1(-2.4999993993e-1f));
  y = Simd::fmadd(y, m, Simd::set1(3.3333331174e-1f));
  y = Simd::mul(Simd::mul(y, m), z);
  y = Simd::fmadd(e, Simd::set1(-2.12194440e-4f), y);
  y = Simd::fnmadd(z, Simd::set1(0.5f), y);
  return Simd::fmadd(e, Simd::set1(0.693359375f), Simd::add(m, y));
}

inline I vmix32(I x) {
  x = Simd::xori(x, Simd::srli<16>(x));
  x = Simd::mullo(x, Simd::set1i(static_cast<int32_t>(0x21F0AAADu)));
  x = Simd::xori(x, Simd::srli<15>(x));
  x = Simd::mullo(x, Simd::set1i(static_cast<int32_t>(0x735A2D97u)));
  return Simd::xori(x, Simd::srli<15>(x));
}

// Vector form of sample_detail::exponential_from_bits.
inline F vexponential(I bits) {
  const F one = Simd::set1(1.0f);
  const I sign = Simd::srai<31>(bits);
  const auto top = Simd::sign_mask(bits);
  const F f = Simd::mul(Simd::add(Simd::cvti(Simd::xori(bits, sign)), Simd::set1(0.5f)), Simd::set1(0x1p-32f));
  const F y = Simd::sub(one, f);
  // top: -log1p(-f) = ((y - 1) + f) / y - log(y), the compensated log1p; else -log(f).
  const F corr = Simd::select(top, Simd::div(Simd::add(Simd::sub(y, one), f), y), Simd::set1(0.0f));
  return Simd::sub(corr, vlog(Simd::select(top, y, f)));
}
#endif

}  // namespace

float sample_sanitize_max(float* x, int64_t n) {
  int64_t i = 0;
  float best = -kInf;
#if KV_ISA != KV_ISA_PORTABLE
  const F inf = Simd::set1(kInf);
  F vbest = Simd::set1(-kInf);
  for (; i + W <= n; i += W) {
    F v = Simd::load(x + i);
    const auto nan = Simd::unord(v), pinf = Simd::eq(v, inf);
    if (Simd::bits(Simd::mor(nan, pinf))) {
      v = Simd::select(nan, Simd::set1(-kInf), Simd::select(pinf, Simd::set1(FLT_MAX), v));
      Simd::store(x + i, v);
    }
    vbest = Simd::max(vbest, v);
  }
  best = Simd::hmax(vbest);
#endif
  for (; i < n; ++i) {
    if (std::isnan(x[i])) x[i] = -kInf;
    else if (x[i] == kInf) x[i] = FLT_MAX;
    best = std::max(best, x[i]);
  }
  return best;
}

float sample_max(const float* x, int64_t n) {
  int64_t i = 0;
  float best = -kInf;
#if KV_ISA != KV_ISA_PORTABLE
  F v0 = Simd::set1(-kInf), v1 = v0;
  for (; i + 2 * W <= n; i += 2 * W) {
    v0 = Simd::max(v0, Simd::load(x + i));
    v1 = Simd::max(v1, Simd::load(x + i + W));
  }
  best = Simd::hmax(Simd::max(v0, v1));
#endif
  for (; i < n; ++i) best = std::max(best, x[i]);
  return best;
}

int64_t sample_argmax(const float* x, int64_t n) {
  const float best = sample_max(x, n);
  int64_t i = 0;
#if KV_ISA != KV_ISA_PORTABLE
  const F vb = Simd::set1(best);
  for (; i + W <= n; i += W) {
    const unsigned hit = Simd::bits(Simd::eq(Simd::load(x + i), vb));
    if (hit) return i + __builtin_ctz(hit);
  }
#endif
  for (; i < n; ++i) {
    if (x[i] == best) return i;
  }
  return 0;  // unreachable for n >= 1: the maximum is an element
}

#if KV_ISA != KV_ISA_PORTABLE
namespace {
// Vector body of sample_sum_exp with the threshold count fixed at compile time (0 for logprobs, all
// of them for the top-p estimate). Returns the index where the scalar tail starts.
template <int NT>
int64_t sum_exp_body(const float* x, int64_t n, float shift, float scale, const float* thresholds, double* sum,
                     float* masses) {
  const F vs = Simd::set1(shift), vk = Simd::set1(scale), zero = Simd::set1(0.0f);
  F vt[NT > 0 ? NT : 1], vm[NT > 0 ? NT : 1];
  for (int t = 0; t < NT; ++t) {
    vt[t] = Simd::set1(thresholds[t]);
    vm[t] = zero;
  }
  Simd::Acc acc0, acc1;  // two chains: the adds do not wait on each other
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const F rel0 = Simd::mul(Simd::sub(Simd::load(x + i), vs), vk);
    const F rel1 = Simd::mul(Simd::sub(Simd::load(x + i + W), vs), vk);
    const F w0 = vexp(rel0), w1 = vexp(rel1);
    acc0.add(w0);
    acc1.add(w1);
    for (int t = 0; t < NT; ++t) {
      vm[t] = Simd::add(vm[t], Simd::add(Simd::select(Simd::ge(rel0, vt[t]), w0, zero),
                                         Simd::select(Simd::ge(rel1, vt[t]), w1, zero)));
    }
  }
  for (; i + W <= n; i += W) {
    const F rel = Simd::mul(Simd::sub(Simd::load(x + i), vs), vk);
    const F w = vexp(rel);
    acc0.add(w);
    for (int t = 0; t < NT; ++t) vm[t] = Simd::add(vm[t], Simd::select(Simd::ge(rel, vt[t]), w, zero));
  }
  *sum = acc0.sum() + acc1.sum();
  for (int t = 0; t < NT; ++t) {
    alignas(64) float lanes[W];
    Simd::store(lanes, vm[t]);
    for (int l = 0; l < W; ++l) masses[t] += lanes[l];
  }
  return i;
}
}  // namespace
#endif

double sample_sum_exp(const float* x, int64_t n, float shift, float scale, const float* thresholds, int num_thresholds,
                      float* masses) {
  int64_t i = 0;
  double sum = 0.0;
  for (int t = 0; t < num_thresholds; ++t) masses[t] = 0.0f;
#if KV_ISA != KV_ISA_PORTABLE
  constexpr int kAll = sample_detail::kMaxSumThresholds;
  if (num_thresholds == 0) i = sum_exp_body<0>(x, n, shift, scale, thresholds, &sum, masses);
  else if (num_thresholds == kAll) i = sum_exp_body<kAll>(x, n, shift, scale, thresholds, &sum, masses);
  // Other counts take the scalar loop (no caller uses them).
#endif
  for (; i < n; ++i) {
    const float rel = (x[i] - shift) * scale;
    const float w = std::exp(rel);
    sum += w;
    for (int t = 0; t < num_thresholds; ++t) {
      if (rel >= thresholds[t]) masses[t] += w;
    }
  }
  return sum;
}

int64_t sample_top_n(const float* x, int64_t n, int64_t k, Candidate* out) {
  k = std::min(k, n);
  if (k <= 0) return 0;
  // Min-heap of the k best so far with the worst on top. Scanning ids in ascending order, a later
  // token equal to the worst loses the tie, so only strictly greater values can enter: the vector
  // prefilter skips whole blocks below the current threshold.
  for (int64_t i = 0; i < k; ++i) out[i] = Candidate{x[i], static_cast<int32_t>(i), 0.0f};
  std::make_heap(out, out + k, better);
  float threshold = out[0].value;
  const auto offer = [&](int64_t j) {
    if (x[j] > threshold) {
      std::pop_heap(out, out + k, better);
      out[k - 1] = Candidate{x[j], static_cast<int32_t>(j), 0.0f};
      std::push_heap(out, out + k, better);
      threshold = out[0].value;
    }
  };
  int64_t i = k;
#if KV_ISA != KV_ISA_PORTABLE
  for (; i + W <= n; i += W) {
    unsigned hit = Simd::bits(Simd::gt(Simd::load(x + i), Simd::set1(threshold)));
    while (hit) {
      offer(i + __builtin_ctz(hit));
      hit &= hit - 1;
    }
  }
#endif
  for (; i < n; ++i) offer(i);
  return k;
}

int64_t sample_gather(const float* x, int64_t n, float shift, float scale, float rel_min, Candidate* out) {
  int64_t i = 0, count = 0;
#if KV_ISA != KV_ISA_PORTABLE
  const F vs = Simd::set1(shift), vk = Simd::set1(scale), vmin = Simd::set1(rel_min);
  alignas(64) float w[W];
  for (; i + W <= n; i += W) {
    const F v = Simd::load(x + i);
    const F rel = Simd::mul(Simd::sub(v, vs), vk);
    unsigned hit = Simd::bits(Simd::ge(rel, vmin));
    if (!hit) continue;
    Simd::store(w, vexp(rel));
    while (hit) {
      const int l = __builtin_ctz(hit);
      out[count++] = Candidate{x[i + l], static_cast<int32_t>(i + l), w[l]};
      hit &= hit - 1;
    }
  }
#endif
  for (; i < n; ++i) {
    const float rel = (x[i] - shift) * scale;
    if (rel >= rel_min) out[count++] = Candidate{x[i], static_cast<int32_t>(i), std::exp(rel)};
  }
  return count;
}

int64_t sample_race_dense(const float* x, int64_t n, float shift, float scale, float rel_min, float bound_value,
                          int32_t bound_id, uint64_t key) {
  int64_t i = 0;
  float best = -1.0f;  // masked-out tokens score -1; kept ones >= 0, and the max token scores > 0
  int64_t best_id = 0;
#if KV_ISA != KV_ISA_PORTABLE
  const F vs = Simd::set1(shift), vk = Simd::set1(scale), vmin = Simd::set1(rel_min), vbv = Simd::set1(bound_value);
  const I vbid = Simd::set1i(bound_id), k0 = Simd::set1i(static_cast<int32_t>(key)),
          k1 = Simd::set1i(static_cast<int32_t>(key >> 32));
  const F slack = Simd::set1(sample_detail::kRacePruneSlack);
  F vbest = Simd::set1(-1.0f), vglobal = vbest;
  I vbest_id = Simd::set1i(0);
  I idx = Simd::iota();
  const I step = Simd::set1i(W);
  for (; i + W <= n; i += W, idx = Simd::addi(idx, step)) {
    const F v = Simd::load(x + i);
    const F rel = Simd::mul(Simd::sub(v, vs), vk);
    const auto keep = Simd::mand(Simd::ge(rel, vmin),
                                 Simd::mor(Simd::gt(v, vbv), Simd::mand(Simd::eq(v, vbv), Simd::lei(idx, vbid))));
    if (!Simd::bits(keep)) continue;
    const I h = vmix32(Simd::addi(vmix32(Simd::xori(idx, k0)), k1));
    const F w = vexp(rel);
    // Pruning (see exponential_lower_bound): only lanes that might beat the best so far pay for E.
    const F bound = Simd::mul(Simd::cvti(Simd::srli<1>(Simd::xori(h, Simd::set1i(-1)))), Simd::set1(0x1p-31f));
    const auto live = Simd::mand(keep, Simd::gt(Simd::mul(w, slack), Simd::mul(vglobal, bound)));
    if (!Simd::bits(live)) continue;
    const F score = Simd::select(live, Simd::div(w, vexponential(h)), Simd::set1(-1.0f));
    const auto up = Simd::gt(score, vbest);  // strict: within a lane the earlier id keeps a tie
    if (!Simd::bits(up)) continue;
    vbest = Simd::select(up, score, vbest);
    vbest_id = Simd::selecti(up, idx, vbest_id);
    vglobal = Simd::allmax(vbest);
  }
  alignas(64) float lane_best[W];
  alignas(64) int32_t lane_id[W];
  Simd::store(lane_best, vbest);
  Simd::store(reinterpret_cast<float*>(lane_id), Simd::asf(vbest_id));
  for (int l = 0; l < W; ++l) {
    if (lane_best[l] > best || (lane_best[l] == best && lane_id[l] < best_id)) {
      best = lane_best[l];
      best_id = lane_id[l];
    }
  }
#endif
  for (; i < n; ++i) {
    const float rel = (x[i] - shift) * scale;
    const bool keep = rel >= rel_min && (x[i] > bound_value || (x[i] == bound_value && i <= bound_id));
    if (!keep) continue;
    const uint32_t bits = token_bits(key, static_cast<uint32_t>(i));
    const float w = std::exp(rel);
    if (w * sample_detail::kRacePruneSlack <= best * sample_detail::exponential_lower_bound(bits)) continue;
    const float score = w / exponential_from_bits(bits);
    if (score > best) {  // later ids lose ties
      best = score;
      best_id = i;
    }
  }
  return best_id;
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
