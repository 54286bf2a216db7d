// CPU kernel of the sample op: the per-row pipeline documented in sample.h, over the row primitives of
// sample_vec_cpu.cc. Shapes, dtypes and invariants: see sample.h.
//
// Cost per row is a few passes over the vocab (sanitize + max, sum of exp for the raw logprobs, and
// the race or the top-p candidate pass); nothing sorts the whole vocab:
//   - top-n logprobs and small top-k: a k-heap behind a vector threshold prefilter;
//   - large top-k: gather + nth_element;
//   - top-p without top-k: one pass estimates the mass above a few thresholds, the candidates above
//     the best one are gathered, and a weighted quickselect finds the nucleus in expected O(count);
//   - min-p alone: a threshold inside the race pass, no list at all.
// The race itself runs over the kept list (scalar) or, when the list is long, as a masked vector pass
// over the whole row: the kept set of top-k/top-p/min-p is always a prefix of the (logit desc, id asc)
// order, so "not worse than the last kept token" is an exact mask.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/sample/sample.h"
#include "ops/sample/sample_internal.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

using sample_detail::better;
using sample_detail::Candidate;
using sample_detail::exponential_from_bits;
using sample_detail::row_key;
using sample_detail::token_bits;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Candidate thresholds for top-p without top-k, in rel units (ln(p / p_max)), best first. Below -18
// each token holds < 1.6e-8 of p_max, so for vocab <= 152k the last one covers any top_p <= 0.997;
// past it the whole vocab is the candidate list.
constexpr float kTopPThresholds[sample_detail::kMaxSumThresholds] = {-3.0f, -7.0f, -12.0f, -18.0f};

// Top-k up to this size uses the heap; larger k gathers the row and runs nth_element.
constexpr int64_t kHeapTopK = 2048;

// A kept list longer than vocab / divisor races as a masked vector pass over the row instead of one
// scalar step per token (0: never, the portable variant has no faster pass).
#if KV_ISA == KV_ISA_AVX512
constexpr int64_t kDenseRaceDivisor = 16;
#elif KV_ISA == KV_ISA_AVX2
constexpr int64_t kDenseRaceDivisor = 8;
#else
constexpr int64_t kDenseRaceDivisor = 0;
#endif

// Raw value of a token before steps 2-4 changed it (the chosen token's logprob needs it).
struct Saved {
  int32_t id;
  float raw;
};

struct RowScratch {
  Candidate* cand;  // [vocab]
  int32_t* counts;  // [vocab], all zero between rows; null when no row has penalties
  Saved* saved;     // [max over rows of num_bias + num_prompt_history + num_output_history]
};

bool has_penalties(const SampleParams& p) {
  return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
}

// +overflow (FLT_MAX / p, large biases) saturates so that max - logit never turns into inf - inf.
float saturate(float v) { return v > FLT_MAX ? FLT_MAX : v; }

// Steps 2-4 in place. counts[t] = 2 * (output count) + (seen in prompt) marks the distinct history
// tokens; each is processed once, on its first occurrence, and reset to zero there. Returns the
// number of saved raw values.
int64_t apply_bias_and_penalties(float* x, const SampleParams& p, const int32_t* history, const int32_t* bias_ids,
                                 const float* bias_values, int32_t* counts, Saved* saved) {
  int64_t num_saved = 0;
  for (int32_t j = 0; j < p.num_bias; ++j) {
    const int32_t t = bias_ids[p.bias_start + j];
    saved[num_saved++] = Saved{t, x[t]};
    x[t] = saturate(x[t] + bias_values[p.bias_start + j]);
  }
  if (!has_penalties(p)) return num_saved;
  const bool repetition = p.repetition_penalty != 1.0f;
  const int32_t* prompt = history + p.history_start;
  const int32_t* output = prompt + p.num_prompt_history;
  if (repetition) {
    for (int32_t j = 0; j < p.num_prompt_history; ++j) counts[prompt[j]] |= 1;
  }
  for (int32_t j = 0; j < p.num_output_history; ++j) counts[output[j]] += 2;
  const auto apply = [&](int32_t t) {
    const int32_t c = counts[t];
    if (c == 0) return;
    counts[t] = 0;
    float v = x[t];
    saved[num_saved++] = Saved{t, v};
    if (repetition) v = v > 0.0f ? v / p.repetition_penalty : v * p.repetition_penalty;
    const int32_t output_count = c >> 1;
    if (output_count > 0) {
      v -= p.frequency_penalty * static_cast<float>(output_count);
      v -= p.presence_penalty;
    }
    x[t] = saturate(v);
  };
  if (repetition) {
    for (int32_t j = 0; j < p.num_prompt_history; ++j) apply(prompt[j]);
  }
  for (int32_t j = 0; j < p.num_output_history; ++j) apply(output[j]);
  return num_saved;
}

// Top-p over candidates in any order: keeps the tokens, in (value desc, id asc) order, whose preceding
// weight is < target, and moves them to the front; returns their count (>= 1 for target > 0). A
// weighted quickselect: partition around a pivot; if the better side already holds `target`, the cut
// is inside it, else keep it (and the pivot) and continue on the worse side with what remains.
// *exhausted: the candidates together weigh less than target (so all are kept). The final walk over
// a short sorted range makes every keep/drop decision, so there is one rule in one place.
int64_t nucleus(Candidate* c, int64_t n, double target, bool* exhausted) {
  int64_t lo = 0, hi = n;
  double rem = target;
  bool cut_inside = false;
  for (int round = 0; hi - lo > 32 && round < 64; ++round) {  // round cap: sort whatever is left
    int64_t i0 = lo, i1 = lo + (hi - lo) / 2, i2 = hi - 1;
    if (better(c[i1], c[i0])) std::swap(i0, i1);
    if (better(c[i2], c[i1])) std::swap(i1, i2);
    if (better(c[i1], c[i0])) std::swap(i0, i1);
    std::swap(c[i1], c[hi - 1]);  // median of three as the pivot
    const Candidate pivot = c[hi - 1];
    int64_t store = lo;
    double mass = 0.0;
    for (int64_t i = lo; i < hi - 1; ++i) {
      if (better(c[i], pivot)) {
        std::swap(c[i], c[store]);
        mass += c[store].weight;
        ++store;
      }
    }
    std::swap(c[store], c[hi - 1]);
    if (mass >= rem) {  // the cut is on the better side: the pivot and the worse side are dropped
      hi = store;
      cut_inside = true;
    } else if (mass + pivot.weight >= rem) {  // the pivot is the last kept token: let the walk take it
      rem -= mass;
      lo = store;
      hi = store + 1;
      cut_inside = true;
      break;
    } else {  // the better side and the pivot are kept; the cut is on the worse side
      rem -= mass + pivot.weight;
      lo = store + 1;
    }
  }
  std::sort(c + lo, c + hi, better);
  int64_t i = lo;
  for (; i < hi && rem > 0.0; ++i) rem -= c[i].weight;
  *exhausted = !cut_inside && rem > 0.0;
  return i;
}

// Exponential race over a list (n >= 1): the candidate maximizing weight / E(id), lowest id on ties.
int64_t race_sparse(const Candidate* c, int64_t n, uint64_t key) {
  float best = -1.0f;
  int32_t best_id = c[0].id;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = token_bits(key, static_cast<uint32_t>(c[i].id));
    if (c[i].weight * sample_detail::kRacePruneSlack <= best * sample_detail::exponential_lower_bound(bits)) continue;
    const float score = c[i].weight / exponential_from_bits(bits);
    if (score > best || (score == best && c[i].id < best_id)) {
      best = score;
      best_id = c[i].id;
    }
  }
  return best_id;
}

// Steps 5-10 on the processed row x (max m). Returns the chosen token.
int64_t choose(const float* x, int64_t vocab, float m, const SampleParams& p, const RowScratch& s) {
  if (!(p.temperature >= kSampleGreedyTemperature) || !(m > -kInf)) return sample_argmax(x, vocab);
  const float scale = 1.0f / p.temperature;
  const uint64_t key = row_key(p.seed, static_cast<uint64_t>(p.counter));
  const bool top_k = p.top_k > 0 && p.top_k < vocab;
  const bool top_p = p.top_p < 1.0f;
  const float rel_min = p.min_p > 0.0f ? std::log(p.min_p) : -kInf;
  if (!top_k && !top_p) return sample_race_dense(x, vocab, m, scale, rel_min, -kInf, INT32_MAX, key);

  Candidate* c = s.cand;
  int64_t kept = 0;
  bool exhausted = false;
  if (top_k) {
    int64_t n;
    if (p.top_k <= kHeapTopK) {
      n = sample_top_n(x, vocab, p.top_k, c);
      for (int64_t i = 0; i < n; ++i) c[i].weight = std::exp((c[i].value - m) * scale);
    } else {
      n = sample_gather(x, vocab, m, scale, -kInf, c);  // every token
      std::nth_element(c, c + (p.top_k - 1), c + n, better);
      n = p.top_k;
    }
    kept = n;
    if (top_p) {
      double z = 0.0;
      for (int64_t i = 0; i < n; ++i) z += c[i].weight;
      kept = nucleus(c, n, static_cast<double>(p.top_p) * z, &exhausted);
    }
  } else {
    float masses[sample_detail::kMaxSumThresholds];
    const double z = sample_sum_exp(x, vocab, m, scale, kTopPThresholds, sample_detail::kMaxSumThresholds, masses);
    const double target = static_cast<double>(p.top_p) * z;
    int t = 0;
    while (t < sample_detail::kMaxSumThresholds && masses[t] < target) ++t;
    for (;;) {
      const float gather_p = t < sample_detail::kMaxSumThresholds ? kTopPThresholds[t] : -kInf;
      const int64_t n = sample_gather(x, vocab, m, scale, std::max(gather_p, rel_min), c);
      kept = nucleus(c, n, target, &exhausted);
      // Done unless the list ran out before the nucleus did because of the top-p threshold (the mass
      // estimate was short). When min-p bounds the list, running out means min-p is the tighter cut.
      if (!exhausted || gather_p <= rel_min) break;
      ++t;
    }
  }
  if (rel_min > -kInf) {  // step 9 on the list; the best token (rel 0) always stays
    int64_t w = 0;
    for (int64_t i = 0; i < kept; ++i) {
      if ((c[i].value - m) * scale >= rel_min) c[w++] = c[i];
    }
    kept = w;
  }
  if (kDenseRaceDivisor > 0 && kept * kDenseRaceDivisor > vocab) {
    const Candidate* worst = c;  // the last kept token in (value desc, id asc) order
    for (int64_t i = 1; i < kept; ++i) {
      if (better(*worst, c[i])) worst = c + i;
    }
    return sample_race_dense(x, vocab, m, scale, -kInf, worst->value, worst->id, key);
  }
  return race_sparse(c, kept, key);
}

void sample_row(int32_t* out_token_id, float* out_logprob, int32_t* out_top_ids, float* out_top_logprobs,
                int32_t max_logprobs, float* x, int64_t vocab, const SampleParams& p, const int32_t* history,
                const int32_t* bias_ids, const float* bias_values, const RowScratch& s) {
  // Steps 0-1: raw logprobs.
  // logprob = (logit - max) - log(sum(exp(logit - max))): subtracting the max first keeps precision when
  // the logits are huge. No finite logit: no distribution, NaN logprobs.
  const float raw_max = sample_sanitize_max(x, vocab);
  const double log_z = raw_max > -kInf ? std::log(sample_sum_exp(x, vocab, raw_max, 1.0f, nullptr, 0, nullptr))
                                       : std::numeric_limits<double>::quiet_NaN();
  const auto logprob = [&](float v) {
    return static_cast<float>((static_cast<double>(v) - static_cast<double>(raw_max)) - log_z);
  };
  int64_t num_top = 0;
  if (p.num_logprobs > 0) {
    num_top = sample_top_n(x, vocab, p.num_logprobs, s.cand);
    std::sort(s.cand, s.cand + num_top, better);
    for (int64_t j = 0; j < num_top; ++j) {
      out_top_ids[j] = s.cand[j].id;
      out_top_logprobs[j] = logprob(s.cand[j].value);
    }
  }
  for (int64_t j = num_top; j < max_logprobs; ++j) {
    out_top_ids[j] = -1;
    out_top_logprobs[j] = -kInf;
  }
  // Steps 2-4, then 5-10.
  const int64_t num_saved = apply_bias_and_penalties(x, p, history, bias_ids, bias_values, s.counts, s.saved);
  const float m = num_saved > 0 ? sample_max(x, vocab) : raw_max;
  const int64_t chosen = choose(x, vocab, m, p, s);
  float raw = x[chosen];
  for (int64_t j = 0; j < num_saved; ++j) {  // the first save of a token is its raw value
    if (s.saved[j].id == chosen) {
      raw = s.saved[j].raw;
      break;
    }
  }
  *out_token_id = static_cast<int32_t>(chosen);
  *out_logprob = logprob(raw);
}

size_t align64(size_t bytes) { return (bytes + 63) & ~size_t(63); }

}  // namespace

void sample_cpu(int32_t* out_token_ids, float* out_logprobs, int32_t* out_top_ids, float* out_top_logprobs,
                int32_t max_logprobs, float* logits, int64_t rows, int64_t vocab, const SampleParams* params,
                const int32_t* history, const int32_t* bias_token_ids, const float* bias_values, ThreadPool& pool,
                Scratch& scratch) {
  if (rows <= 0 || vocab <= 0) return;
  bool any_penalties = false;
  int64_t max_saved = 1;
  for (int64_t r = 0; r < rows; ++r) {
    const SampleParams& p = params[r];
    any_penalties = any_penalties || has_penalties(p);
    max_saved = std::max<int64_t>(max_saved, int64_t{p.num_bias} + p.num_prompt_history + p.num_output_history);
  }
  // Per thread: candidates, token counts (zeroed by the thread before its first penalized row) and
  // saved raw values; a flag byte per thread in front says whether its counts are zeroed yet.
  const int num_threads = pool.num_threads();
  const size_t cand_bytes = align64(static_cast<size_t>(vocab) * sizeof(Candidate));
  const size_t counts_bytes = any_penalties ? align64(static_cast<size_t>(vocab) * sizeof(int32_t)) : 0;
  const size_t saved_bytes = align64(static_cast<size_t>(max_saved) * sizeof(Saved));
  const size_t per_thread = cand_bytes + counts_bytes + saved_bytes;
  const size_t header = align64(static_cast<size_t>(num_threads));
  uint8_t* base = static_cast<uint8_t*>(scratch.get(header + per_thread * static_cast<size_t>(num_threads)));
  std::memset(base, 0, static_cast<size_t>(num_threads));

  pool.parallel_for(rows, 1, [&](int64_t begin, int64_t end, int thread) {
    uint8_t* mine = base + header + per_thread * static_cast<size_t>(thread);
    RowScratch s{reinterpret_cast<Candidate*>(mine),
                 any_penalties ? reinterpret_cast<int32_t*>(mine + cand_bytes) : nullptr,
                 reinterpret_cast<Saved*>(mine + cand_bytes + counts_bytes)};
    for (int64_t r = begin; r < end; ++r) {
      const SampleParams& p = params[r];
      if (has_penalties(p) && !base[thread]) {
        std::memset(s.counts, 0, static_cast<size_t>(vocab) * sizeof(int32_t));
        base[thread] = 1;
      }
      sample_row(out_token_ids + r, out_logprobs + r, out_top_ids + r * max_logprobs,
                 out_top_logprobs + r * max_logprobs, max_logprobs, logits + r * vocab, vocab, p, history,
                 bias_token_ids, bias_values, s);
    }
  });
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
