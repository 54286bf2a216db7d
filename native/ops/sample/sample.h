// sample: one token id per logits row (vLLM / llama.cpp-style sampling), all rows of an engine step in
// one call. Rows are independent and a row's result depends only on its own logits, parameters and
// history: never on the other rows of the batch nor on the thread count (batch invariance).
//
// Pipeline per row, in this order (test/ops/reference/sample.ts is the naive double-precision mirror):
//   0. Sanitize: NaN logits become -inf and +inf becomes FLT_MAX, in place.
//   1. Logprobs from the RAW logits (log_softmax before any bias, penalty or temperature: vLLM v1's
//      default "raw logprobs"): the chosen token's logprob, and the num_logprobs best tokens with
//      theirs, sorted descending, ties by the lower id. Unused slots of a row hold id -1, logprob -inf.
//      Computed as (logit - max) - log(sum(exp(logit - max))), sum in double. A row with no finite
//      logit has no distribution: its logprobs are NaN (the draw still follows steps 2-10).
//   2. Logit bias: logit[id] += value for each (bias_token_ids[j], bias_values[j]); duplicates add up.
//   3. Repetition penalty, once per distinct token of prompt+output history (HF / vLLM rule):
//      logit > 0 ? logit / p : logit * p.
//   4. Frequency then presence penalty over OUTPUT history only (vLLM):
//      logit -= frequency * count;  logit -= presence (when count > 0).
//      Steps 2-4 write the processed values into `logits` (sparse: only the touched tokens change).
//   5. temperature < 1e-5 (or <= 0): greedy, the argmax of the processed logits, lowest id on ties;
//      steps 6-10 are skipped. The same argmax (token 0) is taken when every processed logit is -inf.
//      Values pushed past FLT_MAX by bias or penalties saturate at FLT_MAX.
//   6. Temperature: rel_i = (logit_i - max) / T, probabilities p_i proportional to exp(rel_i).
//   7. top-k (k > 0 and k < vocab): keep exactly the k best tokens by (logit desc, id asc).
//   8. top-p (< 1): over the survivors, renormalized and sorted descending, keep a token iff the mass
//      strictly before it is < top_p (the smallest prefix reaching top_p; the best token always stays).
//   9. min-p (> 0): drop tokens with p_i < min_p * p_max, i.e. rel_i < ln(min_p).
//  10. Draw by an exponential race: the kept token maximizing exp(rel_i) / E_i with E_i ~ Exp(1) wins
//      with probability p_i / sum(p) (the Gumbel-max trick in ratio form). E_i comes from a
//      counter-based hash of (seed, counter, token id), so a request's k-th token uses the same random
//      numbers whatever else is batched, and no generator state lives between steps:
//        key    = splitmix64(seed ^ splitmix64(counter))
//        bits_i = mix32(mix32(i ^ lo32(key)) + hi32(key))       mix32 = Wellons' lowbias32
//        f      = (float(b) + 0.5) * 2^-32, b = bits_i with the top bit folded (b = top ? ~bits : bits)
//        E_i    = top ? -log1p(-f) : -log(f)    (u = (bits_i + 0.5) / 2^32, E = -ln u at full
//                                                precision for u near 0 and near 1 alike)
//      (native/ops/sample/sample_internal.h holds these functions; the TS reference mirrors them.)
//      The vector variants evaluate exp/log with ~2-ulp polynomials, the portable one with libm, so a
//      draw whose two best scores lie within ~1e-6 of each other may differ between ISA variants; on
//      one variant every result is deterministic.
//
// Tensors:
//   out_token_ids    [rows]               i32  chosen token
//   out_logprobs     [rows]               f32  raw logprob of the chosen token
//   out_top_ids      [rows, max_logprobs] i32  (null when max_logprobs == 0)
//   out_top_logprobs [rows, max_logprobs] f32  (null when max_logprobs == 0)
//   logits           [rows, vocab]        f32  modified in place (steps 0, 2-4)
//   params           [rows]               SampleParams
//   history          [*] i32: row r reads [history_start, + num_prompt_history) as prompt tokens, then
//                    the next num_output_history entries as output tokens
//   bias_token_ids / bias_values [*]: row r reads [bias_start, bias_start + num_bias)
// Invariants (the binding validates them; the kernel trusts them): every referenced range is inside
// its array, every token id is in [0, vocab), 0 <= num_logprobs <= max_logprobs <= 20, 0 < top_p <= 1,
// 0 <= min_p <= 1, repetition_penalty > 0, all float parameters finite, bias values not NaN / +inf.
// Threads: rows are spread over `pool`; scratch holds per-thread candidate lists and token counts.
#pragma once
#include <cstdint>

#include "core/isa.h"
#include "core/scratch.h"
#include "core/thread_pool.h"

namespace kv {

// Per-row parameters (one per logits row). Plain old data so the runner can pass flat arrays.
// The TS mirror (lib/runner/sample-params-packing.ts) packs them as kSampleParamsStride doubles per
// row, in this field order.
struct SampleParams {
  float temperature;         // < 1e-5 (or <= 0): greedy (argmax, lowest index on ties)
  int32_t top_k;             // <= 0 (or >= vocab): off
  float top_p;               // 1: off; (0, 1]
  float min_p;               // 0: off; [0, 1]
  float repetition_penalty;  // 1: off; > 0; tokens of prompt+output history
  float presence_penalty;    // 0: off; logit -= presence * (count > 0) over OUTPUT tokens only
  float frequency_penalty;   // 0: off; logit -= frequency * count over OUTPUT tokens only
  uint64_t seed;             // per-request seed (the engine draws one when the user gives none)
  int64_t counter;           // index of this sample in the request's output
  int32_t num_logprobs;      // 0..max_logprobs: number of top alternatives to return
  int32_t history_start, num_prompt_history, num_output_history;  // into `history`
  int32_t bias_start, num_bias;                                     // into bias_token_ids / bias_values
};

constexpr int kSampleParamsStride = 15;  // doubles per row in the packed JS form
constexpr int32_t kSampleMaxLogprobs = 20;
constexpr float kSampleGreedyTemperature = 1e-5f;

}  // namespace kv

KV_DECLARE_CPU_KERNEL(void sample_cpu(int32_t* out_token_ids, float* out_logprobs, int32_t* out_top_ids,
                                      float* out_top_logprobs, int32_t max_logprobs, float* logits, int64_t rows,
                                      int64_t vocab, const ::kv::SampleParams* params, const int32_t* history,
                                      const int32_t* bias_token_ids, const float* bias_values, ::kv::ThreadPool& pool,
                                      ::kv::Scratch& scratch))
