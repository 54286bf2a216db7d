// Internal to the sample op. (1) The counter-based random numbers of the exponential race (sample.h,
// step 10), shared by the scalar and the vector paths and mirrored exactly by
// test/ops/reference/sample.ts. (2) The row primitives that sample_vec_cpu.cc implements per ISA
// variant and sample_cpu.cc composes. Baseline code only: kernel files include this header before
// core/isa_begin.h, so these inline functions compile identically in every variant (no ODR clash).
#pragma once
#include <cmath>
#include <cstdint>

#include "core/isa.h"

namespace kv::sample_detail {

/** Steele et al.'s splitmix64 finalizer: a bijective 64-bit mix with full avalanche. */
constexpr uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/** Key of one draw: depends on the request's seed and the sample's index in its output only. */
constexpr uint64_t row_key(uint64_t seed, uint64_t counter) { return splitmix64(seed ^ splitmix64(counter)); }

/** Wellons' lowbias32 (hash-prospector): a bijective 32-bit mix; 32-bit ops so SIMD and JS run it cheaply. */
constexpr uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x21F0AAADu;
  x ^= x >> 15;
  x *= 0x735A2D97u;
  x ^= x >> 15;
  return x;
}

/** 32 random bits for token `token` of the draw `key`; a bijection of the token for a fixed key. */
constexpr uint32_t token_bits(uint64_t key, uint32_t token) {
  return mix32(mix32(token ^ static_cast<uint32_t>(key)) + static_cast<uint32_t>(key >> 32));
}

/**
 * E = -ln(u) ~ Exp(1) for u = (bits + 0.5) / 2^32. The top bit picks the half: below 1/2, -log(u);
 * above, -log1p(-(1 - u)) with 1 - u formed exactly from the folded bits, so E keeps float precision
 * near 0 too (a plain float u would round to 1 there). Result in [1.2e-10, 22.2].
 */
inline float exponential_from_bits(uint32_t bits) {
  const bool top = (bits >> 31) != 0;
  const uint32_t folded = top ? ~bits : bits;  // < 2^31
  const float f = (static_cast<float>(static_cast<int32_t>(folded)) + 0.5f) * 0x1p-32f;
  return top ? -std::log1p(-f) : -std::log(f);
}

/**
 * A cheap lower bound of exponential_from_bits(bits): 1 - u <= -ln(u), with 1 - u taken one bit short
 * (floor(~bits / 2) * 2^-31 <= (~bits + 0.5) * 2^-32). The race skips the log for a token whose
 * weight / bound cannot beat the best score so far; kRacePruneSlack (far above the float error of E)
 * keeps that exact: a skipped token could never have won.
 */
inline float exponential_lower_bound(uint32_t bits) {
  return static_cast<float>(static_cast<int32_t>(~bits >> 1)) * 0x1p-31f;
}
constexpr float kRacePruneSlack = 1.0f + 0x1p-12f;

/** Most thresholds sample_sum_exp accepts. */
constexpr int kMaxSumThresholds = 4;

/** A token in a candidate list: its processed logit, id and (when filled) exp(rel). */
struct Candidate {
  float value;
  int32_t id;
  float weight;
};

/** Strict total order of the pipeline: larger logit first, then lower id. */
inline bool better(const Candidate& a, const Candidate& b) {
  return a.value > b.value || (a.value == b.value && a.id < b.id);
}

}  // namespace kv::sample_detail

// Row primitives (sample_vec_cpu.cc). `rel` below is (x[i] - shift) * scale, computed in float exactly
// this way everywhere so that thresholds agree between the primitives.

/** NaN -> -inf and +inf -> FLT_MAX in place; returns the maximum (-inf when n == 0). */
KV_DECLARE_CPU_KERNEL(float sample_sanitize_max(float* x, int64_t n))
/** Maximum of x[0, n). */
KV_DECLARE_CPU_KERNEL(float sample_max(const float* x, int64_t n))
/** Index of the first maximum of x[0, n) (n >= 1). */
KV_DECLARE_CPU_KERNEL(int64_t sample_argmax(const float* x, int64_t n))
/**
 * Sum of exp(rel) over x[0, n) in double; also masses[t] = sum of exp(rel) over rel >= thresholds[t]
 * (float accumulation: an estimate to pick a candidate threshold, never used as a probability).
 * num_thresholds is 0 or sample_detail::kMaxSumThresholds (the vector paths; other counts run scalar).
 */
KV_DECLARE_CPU_KERNEL(double sample_sum_exp(const float* x, int64_t n, float shift, float scale,
                                            const float* thresholds, int num_thresholds, float* masses))
/** The k best tokens by (value desc, id asc), unordered, into out[0, k); returns min(k, n). Weights unset. */
KV_DECLARE_CPU_KERNEL(int64_t sample_top_n(const float* x, int64_t n, int64_t k, ::kv::sample_detail::Candidate* out))
/** Every token with rel >= rel_min, ascending id, with weight = exp(rel); returns the count. */
KV_DECLARE_CPU_KERNEL(int64_t sample_gather(const float* x, int64_t n, float shift, float scale, float rel_min,
                                            ::kv::sample_detail::Candidate* out))
/**
 * Exponential race over the tokens with rel >= rel_min that are not worse than the boundary token
 * (bound_value, bound_id) in (value desc, id asc) order: returns the id maximizing exp(rel) / E(id),
 * lowest id on ties. Pass bound_value = -inf, bound_id = INT32_MAX for no boundary.
 */
KV_DECLARE_CPU_KERNEL(int64_t sample_race_dense(const float* x, int64_t n, float shift, float scale, float rel_min,
                                                float bound_value, int32_t bound_id, uint64_t key))
