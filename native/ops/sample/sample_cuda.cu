// sample on the GPU: sample.h's pipeline, one block of kThreads threads per logits row.
//   0-1  sanitize (NaN -> -inf, +inf -> FLT_MAX, in place) and the raw max; log_z = log(sum exp(x - max))
//        with the float exps summed in double (block tree); the num_logprobs best raw tokens by radix
//        selection of the order key (sample_cuda.cuh), sorted by one thread.
//   2    logit bias by one thread, in order (duplicates add up, saturating after each add).
//   3-4  penalties: a per-row count array (workspace, cleared first) gets 2 per output occurrence and
//        bit 0 for the prompt (repetition penalty only); each distinct token is then processed once, by
//        the history entry whose atomicExch takes its count.
//   5    greedy (temperature < 1e-5, or no finite logit): the largest order key, i.e. the first maximum.
//   6-9  top-k: the k-th order key; top-p: the radix descent over 2^-40 fixed-point masses of the top-k
//        survivors; min-p: rel >= ln(min_p) checked in the race. The kept set is the order's prefix down
//        to the larger boundary key, intersected with min-p (also a prefix).
//   10   exponential race over the kept tokens: score = expf(rel) / E(bits of (seed, counter, id)); the
//        best score wins, the lowest id on ties (sample_cuda.cuh's hash equals sample_internal.h's).
// The chosen token's logprob uses its raw value: the first saved raw value of that id when bias or a
// penalty touched it (bias saves come first), else the logit itself.
// Numerics: the CPU portable variant's expressions; expf / logf / log1pf are CUDA's (<= 2 ulp from libm:
// as in sample.h, a draw whose two best scores are within ~1e-6 may differ from the CPU's), and the
// top-p masses are 2^-40 fixed-point integer sums instead of double sums (a cut within ~1e-12 of its
// threshold may fall the other way). In the emulator (libm) the draws equal the CPU kernel's.
// Every reduction has a fixed order or is an integer sum: the result never depends on thread timing.
// Launch: grid.x = rows, kThreads threads, static shared memory only.
#include <algorithm>
#include <cfloat>

#include "ops/sample/sample_cuda.cuh"
#include "ops/sample/sample_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 512;

struct SavedRaw {
  int32_t id;  // -1: no entry
  float raw;
};

struct Args {
  int32_t* out_token_ids;
  float* out_logprobs;
  int32_t* out_top_ids;
  float* out_top_logprobs;
  float* logits;
  const SampleParams* params;
  const int32_t* history;
  const int32_t* bias_token_ids;
  const float* bias_values;
  SavedRaw* saved;  // [rows, max_saved]
  int32_t* counts;  // [rows, vocab]
  int64_t vocab, max_saved;
  int32_t max_logprobs;
};

struct Shared {
  sample::SelectShared sel;
  float fpart[32];
  double dpart[32];
  unsigned long long upart[32], upart2[32], upart3[32];
  unsigned long long top_keys[kSampleMaxLogprobs];
  int top_count;
};

__device__ __forceinline__ float saturate(float v) { return v > FLT_MAX ? FLT_MAX : v; }

__device__ __forceinline__ bool has_penalties(const SampleParams& p) {
  return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
}

__global__ void __launch_bounds__(kThreads) sample_kernel(Args a) {
  __shared__ Shared sh;
  const int64_t row = blockIdx.x, vocab = a.vocab;
  const SampleParams p = a.params[row];
  float* x = a.logits + row * vocab;
  const int tid = threadIdx.x;

  // 0-1: sanitize, raw max, log-normalizer, top raw logprobs.
  float local = -INFINITY;
  for (int64_t i = tid; i < vocab; i += blockDim.x) {
    float v = x[i];
    if (isnan(v)) x[i] = v = -INFINITY;
    else if (v == INFINITY) x[i] = v = FLT_MAX;
    local = fmaxf(local, v);
  }
  const float raw_max = block_max(local, sh.fpart);
  double log_z = __longlong_as_double(0x7ff8000000000000ll);  // NaN: no finite logit, no distribution
  if (raw_max > -INFINITY) {
    double s = 0.0;
    for (int64_t i = tid; i < vocab; i += blockDim.x) s += static_cast<double>(expf(x[i] - raw_max));
    log_z = log(block_sum(s, sh.dpart));
  }
  int num_top = 0;
  if (p.num_logprobs > 0) {
    num_top = static_cast<int>(min(static_cast<int64_t>(p.num_logprobs), vocab));
    const uint64_t kth = sample::select_kth_key(x, vocab, 0, num_top, sh.sel);
    if (tid == 0) sh.top_count = 0;
    __syncthreads();  // counter reset before the appends
    for (int64_t i = tid; i < vocab; i += blockDim.x) {
      const uint64_t key = sample::order_key(x[i], i);
      if (key >= kth) sh.top_keys[atomicAdd(&sh.top_count, 1)] = key;
    }
    __syncthreads();  // the num_top keys are in
  }
  if (tid == 0) {
    for (int j = 1; j < num_top; ++j) {  // insertion sort, best first
      const unsigned long long key = sh.top_keys[j];
      int at = j;
      for (; at > 0 && sh.top_keys[at - 1] < key; --at) sh.top_keys[at] = sh.top_keys[at - 1];
      sh.top_keys[at] = key;
    }
    for (int j = 0; j < a.max_logprobs; ++j) {
      const int64_t o = row * a.max_logprobs + j;
      if (j < num_top) {
        const int32_t id = sample::key_id(sh.top_keys[j]);
        a.out_top_ids[o] = id;
        a.out_top_logprobs[o] = static_cast<float>((static_cast<double>(x[id]) - static_cast<double>(raw_max)) - log_z);
      } else {
        a.out_top_ids[o] = -1;
        a.out_top_logprobs[o] = -INFINITY;
      }
    }
  }

  // 2: logit bias, in order.
  SavedRaw* saved = a.saved + row * a.max_saved;
  if (tid == 0) {
    for (int32_t j = 0; j < p.num_bias; ++j) {
      const int32_t t = a.bias_token_ids[p.bias_start + j];
      saved[j] = SavedRaw{t, x[t]};
      x[t] = saturate(x[t] + a.bias_values[p.bias_start + j]);
    }
  }
  __syncthreads();  // biased logits visible (penalties build on them)

  // 3-4: penalties, each distinct history token once.
  const bool penalties = has_penalties(p);
  int64_t num_saved = p.num_bias;
  if (penalties) {
    const bool repetition = p.repetition_penalty != 1.0f;
    int32_t* counts = a.counts + row * vocab;
    const int32_t* hist = a.history + p.history_start;  // prompt tokens, then output tokens
    const int64_t np = p.num_prompt_history, total = np + p.num_output_history;
    for (int64_t i = tid; i < vocab; i += blockDim.x) counts[i] = 0;
    __syncthreads();  // counts cleared
    if (repetition)
      for (int64_t j = tid; j < np; j += blockDim.x) atomicOr(&counts[hist[j]], 1);
    for (int64_t j = np + tid; j < total; j += blockDim.x) atomicAdd(&counts[hist[j]], 2);
    __syncthreads();  // counts complete
    const int64_t first = repetition ? 0 : np;
    for (int64_t e = first + tid; e < total; e += blockDim.x) {
      const int32_t t = hist[e];
      const int32_t c = atomicExch(&counts[t], 0);
      SavedRaw& slot = saved[p.num_bias + (e - first)];
      if (c == 0) {
        slot = SavedRaw{-1, 0.0f};
        continue;
      }
      float v = x[t];
      slot = SavedRaw{t, v};
      if (repetition) v = v > 0.0f ? v / p.repetition_penalty : v * p.repetition_penalty;
      const int32_t output_count = c >> 1;
      if (output_count > 0) {
        v -= p.frequency_penalty * static_cast<float>(output_count);
        v -= p.presence_penalty;
      }
      x[t] = saturate(v);
    }
    num_saved += total - first;
    __syncthreads();  // processed logits and saved raw values visible
  }
  float m = raw_max;
  if (p.num_bias > 0 || penalties) {
    local = -INFINITY;
    for (int64_t i = tid; i < vocab; i += blockDim.x) local = fmaxf(local, x[i]);
    m = block_max(local, sh.fpart);
  }

  // 5-10: choose.
  uint64_t best = 0;
  if (!(p.temperature >= kSampleGreedyTemperature) || !(m > -INFINITY)) {
    for (int64_t i = tid; i < vocab; i += blockDim.x) {
      const uint64_t key = sample::order_key(x[i], i);
      best = key > best ? key : best;
    }
  } else {
    const float scale = 1.0f / p.temperature;
    const uint64_t key = sample::row_key(p.seed, static_cast<uint64_t>(p.counter));
    const float rel_min = p.min_p > 0.0f ? logf(p.min_p) : -INFINITY;
    uint64_t boundary = 0;
    if (p.top_k > 0 && p.top_k < vocab) boundary = sample::select_kth_key(x, vocab, 0, p.top_k, sh.sel);
    if (p.top_p < 1.0f) {
      unsigned long long z = 0;
      for (int64_t i = tid; i < vocab; i += blockDim.x) {
        if (sample::order_key(x[i], i) >= boundary) z += sample::fixed_weight(expf((x[i] - m) * scale));
      }
      z = block_sum(z, sh.upart);
      const double target = static_cast<double>(p.top_p) * static_cast<double>(z);
      boundary = sample::select_top_p_key(x, vocab, boundary, m, scale, target, sh.sel);
    }
    for (int64_t i = tid; i < vocab; i += blockDim.x) {
      const float v = x[i];
      const float rel = (v - m) * scale;
      if (!(rel >= rel_min) || sample::order_key(v, i) < boundary) continue;
      const float score = expf(rel) / sample::exponential_from_bits(sample::token_bits(key, static_cast<uint32_t>(i)));
      const uint64_t cand = (static_cast<uint64_t>(sample::orderable(score)) << 32) | (0xffffffffu - static_cast<uint32_t>(i));
      best = cand > best ? cand : best;
    }
  }
  const int32_t chosen = sample::key_id(sample::block_max_u64(best, sh.upart2));

  // The chosen token's raw value: its first save, if any.
  uint64_t found = 0;  // ~slot of the first save of `chosen`, as a maximum
  for (int64_t j = tid; j < num_saved; j += blockDim.x) {
    if (saved[j].id == chosen) {
      const uint64_t f = ~static_cast<uint64_t>(j);
      found = f > found ? f : found;
    }
  }
  found = sample::block_max_u64(found, sh.upart3);
  if (tid == 0) {
    const float raw = found ? saved[~found].raw : x[chosen];
    a.out_token_ids[row] = chosen;
    a.out_logprobs[row] = static_cast<float>((static_cast<double>(raw) - static_cast<double>(raw_max)) - log_z);
  }
}

size_t align256(size_t n) { return (n + 255) & ~size_t(255); }

}  // namespace

size_t sample_cuda_workspace_bytes(int64_t rows, int64_t vocab, int64_t max_saved) {
  return align256(static_cast<size_t>(rows * std::max<int64_t>(max_saved, 1)) * sizeof(SavedRaw)) +
         align256(static_cast<size_t>(rows * vocab) * sizeof(int32_t));
}

void sample_cuda(int32_t* out_token_ids, float* out_logprobs, int32_t* out_top_ids, float* out_top_logprobs,
                 int32_t max_logprobs, float* logits, int64_t rows, int64_t vocab, const SampleParams* params,
                 const int32_t* history, const int32_t* bias_token_ids, const float* bias_values, int64_t max_saved,
                 void* workspace, Stream stream) {
  if (rows <= 0 || vocab <= 0) return;
  Args a;
  a.out_token_ids = out_token_ids;
  a.out_logprobs = out_logprobs;
  a.out_top_ids = out_top_ids;
  a.out_top_logprobs = out_top_logprobs;
  a.logits = logits;
  a.params = params;
  a.history = history;
  a.bias_token_ids = bias_token_ids;
  a.bias_values = bias_values;
  a.saved = static_cast<SavedRaw*>(workspace);
  a.counts = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(workspace) +
                                        align256(static_cast<size_t>(rows * std::max<int64_t>(max_saved, 1)) * sizeof(SavedRaw)));
  a.vocab = vocab;
  a.max_saved = std::max<int64_t>(max_saved, 1);
  a.max_logprobs = max_logprobs;
  KV_LAUNCH(sample_kernel, static_cast<unsigned>(rows), kThreads, 0, stream)(a);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace kv::cuda
