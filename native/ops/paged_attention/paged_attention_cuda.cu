// paged_attention on the GPU (see paged_attention.h): causal attention of this step's query tokens over
// the paged KV cache, for any mix of prefill chunks and decode rows, with GQA and f32/f16/bf16 caches.
//   out [T, n_heads, head_dim] f32 (may alias q exactly)   q [T, n_heads, head_dim] f32
//   k_cache, v_cache [num_blocks, n_kv_heads, block_size, head_dim] kv_dtype
//   query_start_loc [num_seqs + 1], seq_lens [num_seqs], block_tables [num_seqs, max_blocks_per_seq] i32
//
// Work split as the CPU kernel's: a block owns one sequence, one kv head, a tile of R query rows and a
// chunk of HB query heads of that kv head's group (R = max(1, V / G), HB = min(G, V), V = 16 query
// vectors per block, 8 when head_dim > 128), so every K/V row it loads serves M = rows x heads query
// vectors. It walks positions in chunks of kChunk = 16:
//   A. stage the chunk's K and V rows in shared memory as f32 (block-table lookup per row);
//   B. S[m][i] = sum_d (scale q_m[d]) K[i][d], one thread per (m, i), masked to -inf past the causal limit;
//   C. online softmax per query vector m (one thread each): running max, alpha = exp(old - new) (0 on the
//      first visible chunk, 1 when the max holds), P = exp(S - max), l = alpha l + sum P;
//   D. O[m][d] = alpha O[m][d] + sum_i P[m][i] V[i][d], one thread per (m, d), O in shared memory.
// A __syncthreads separates each step from the next (and D from the next chunk's A).
// Numerics: the CPU portable kernel's operation order (sequential dot products, unfused multiply-adds
// under -fmad=false, chunks aligned at position 0, out = O * (1 / l)), so the one-pass variant equals it
// bit for bit where expf is the same (the emulator); on a GPU expf differs by <= 2 ulp.
//
// Two variants:
//   one pass (plan.partition_size == 0): a block visits all positions its tile sees; grid =
//     (row tiles x head chunks, n_kv_heads, num_seqs), row tiles = ceil(max_query_len / R); tiles past a
//     sequence's length exit at once.
//   split context (partition_size > 0, for long decode contexts that would leave the GPU idle): grid.x
//     also spans the partitions of partition_size positions; each block writes its unnormalized O, max
//     and sum for its partition into the workspace; paged_attention_reduce_kernel then merges, per
//     (token, head), the partitions that token can see: M = max m_j, out = sum_j e^(m_j - M) O_j /
//     sum_j e^(m_j - M) l_j.
// Shared memory: (M (D + 1) + M D + 16 (D + 1) + 16 D + 16 M + 3 M) floats (67 KB at D = 256); above
// 48 KB the launcher raises the kernel's limit (cudaFuncSetAttribute). Threads: kThreads = 128.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/cuda/device_util.cuh"
#include "ops/paged_attention/paged_attention_cuda.h"

namespace kv::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kChunk = 16;

struct Args {
  float* out;
  const float* q;
  const void* k_cache;
  const void* v_cache;
  const int32_t* query_start_loc;
  const int32_t* seq_lens;
  const int32_t* block_tables;
  float* part_o;  // split: [T, n_heads, num_parts, head_dim]
  float* part_m;  // split: [T, n_heads, num_parts]
  float* part_l;
  int64_t max_blocks_per_seq, block_size, part_size;
  int32_t n_heads, n_kv_heads, head_dim, group;
  int32_t rows_per_block, heads_per_block, head_chunks, num_parts, max_vectors;
  float scale;
};

template <DType T>
__device__ __forceinline__ float load_kv(const void* cache, int64_t index) {
  if constexpr (T == DType::F16) return half_bits_to_float(static_cast<const uint16_t*>(cache)[index]);
  else if constexpr (T == DType::BF16) return bf16_bits_to_float(static_cast<const uint16_t*>(cache)[index]);
  else return static_cast<const float*>(cache)[index];
}

template <DType T, bool kSplit>
__global__ void __launch_bounds__(kThreads) paged_attention_kernel(Args a) {
  const int seq = blockIdx.z, kv_head = blockIdx.y;
  const int part = static_cast<int>(blockIdx.x % a.num_parts);
  const int head_chunk = static_cast<int>(blockIdx.x / a.num_parts % a.head_chunks);
  const int row_tile = static_cast<int>(blockIdx.x / a.num_parts / a.head_chunks);
  const int64_t q0 = a.query_start_loc[seq];
  const int64_t len = a.query_start_loc[seq + 1] - q0;
  const int64_t row_begin = static_cast<int64_t>(row_tile) * a.rows_per_block;
  if (row_begin >= len) return;  // the whole block leaves before any barrier
  const int rows = static_cast<int>(min(static_cast<int64_t>(a.rows_per_block), len - row_begin));
  const int g0 = head_chunk * a.heads_per_block;
  const int heads = min(a.heads_per_block, a.group - g0);
  const int M = rows * heads;  // query vector m = row * heads + head
  const int64_t ctx = a.seq_lens[seq] - len;
  const int64_t kv_end = ctx + row_begin + rows;
  const int64_t p_begin = static_cast<int64_t>(part) * a.part_size;
  if (p_begin >= kv_end) return;
  const int64_t p_end = min(kv_end, p_begin + a.part_size);

  const int D = a.head_dim, dp = D + 1, mv = a.max_vectors;
  float* qs = reinterpret_cast<float*>(kv_smem);  // [mv][dp] scaled q
  float* os = qs + mv * dp;                       // [mv][D]  O accumulators
  float* ks = os + mv * D;                        // [kChunk][dp]
  float* vs = ks + kChunk * dp;                   // [kChunk][D]
  float* sc = vs + kChunk * D;                    // [mv][kChunk] scores, then probabilities
  float* mx = sc + mv * kChunk;                   // [mv] running max
  float* ls = mx + mv;                            // [mv] running sum
  float* alpha = ls + mv;                         // [mv] this chunk's rescale

  const int tid = threadIdx.x;
  const int64_t head0 = static_cast<int64_t>(kv_head) * a.group + g0;
  for (int e = tid; e < M * D; e += blockDim.x) {
    const int m = e / D, d = e % D;
    const int64_t t = q0 + row_begin + m / heads;
    qs[m * dp + d] = a.q[(t * a.n_heads + head0 + m % heads) * D + d] * a.scale;
    os[m * D + d] = 0.0f;
  }
  for (int m = tid; m < M; m += blockDim.x) {
    mx[m] = -INFINITY;
    ls[m] = 0.0f;
  }
  const int32_t* table = a.block_tables + seq * a.max_blocks_per_seq;

  for (int64_t p0 = p_begin; p0 < p_end; p0 += kChunk) {
    const int n = static_cast<int>(min(static_cast<int64_t>(kChunk), p_end - p0));
    for (int e = tid; e < n * D; e += blockDim.x) {
      const int i = e / D, d = e % D;
      const int64_t p = p0 + i;
      const int64_t row = (static_cast<int64_t>(table[p / a.block_size]) * a.n_kv_heads + kv_head) * a.block_size +
                          p % a.block_size;
      ks[i * dp + d] = load_kv<T>(a.k_cache, row * D + d);
      vs[i * D + d] = load_kv<T>(a.v_cache, row * D + d);
    }
    __syncthreads();  // A: K/V (and on the first chunk q, O, statistics) staged

    for (int e = tid; e < M * kChunk; e += blockDim.x) {
      const int m = e / kChunk, i = e % kChunk;
      const int64_t limit = ctx + row_begin + m / heads;  // last position this query vector sees
      float s = -INFINITY;
      if (i < n && p0 + i <= limit) {
        const float* qm = qs + m * dp;
        const float* ki = ks + i * dp;
        s = 0.0f;
        for (int d = 0; d < D; ++d) s = qm[d] * ki[d] + s;
      }
      sc[e] = s;
    }
    __syncthreads();  // B: scores complete

    for (int m = tid; m < M; m += blockDim.x) {
      float* sr = sc + m * kChunk;
      float cmax = -INFINITY;
      for (int i = 0; i < kChunk; ++i) cmax = fmaxf(cmax, sr[i]);
      if (cmax == -INFINITY) {  // the whole chunk is in this vector's future
        for (int i = 0; i < kChunk; ++i) sr[i] = 0.0f;
        alpha[m] = 1.0f;
        continue;
      }
      float al = 1.0f;
      if (cmax > mx[m]) {
        al = mx[m] == -INFINITY ? 0.0f : expf(mx[m] - cmax);
        mx[m] = cmax;
      }
      float sum = 0.0f;
      for (int i = 0; i < kChunk; ++i) {
        const float pi = sr[i] == -INFINITY ? 0.0f : expf(sr[i] - mx[m]);
        sr[i] = pi;
        sum += pi;
      }
      ls[m] = ls[m] * al + sum;
      alpha[m] = al;
    }
    __syncthreads();  // C: probabilities and rescale factors ready

    for (int e = tid; e < M * D; e += blockDim.x) {
      const int m = e / D, d = e % D;
      const float* pm = sc + m * kChunk;
      float acc = os[e] * alpha[m];
      for (int i = 0; i < n; ++i) acc = pm[i] * vs[i * D + d] + acc;
      os[e] = acc;
    }
    __syncthreads();  // D: the chunk's K/V and probabilities may be overwritten
  }

  for (int e = tid; e < M * D; e += blockDim.x) {
    const int m = e / D, d = e % D;
    const int64_t t = q0 + row_begin + m / heads;
    const int64_t h = head0 + m % heads;
    if constexpr (kSplit) {
      const int64_t slot = (t * a.n_heads + h) * a.num_parts + part;
      a.part_o[slot * D + d] = os[e];
      if (d == 0) {
        a.part_m[slot] = mx[m];
        a.part_l[slot] = ls[m];
      }
    } else {
      a.out[(t * a.n_heads + h) * D + d] = os[e] * (1.0f / ls[m]);
    }
  }
}

// One block per (token, head): merges the partitions the token sees (those starting at or before its
// last visible position; each of them saw at least one position, so its max is finite and sum > 0).
__global__ void __launch_bounds__(kThreads) paged_attention_reduce_kernel(Args a, int32_t num_seqs) {
  float* weight = reinterpret_cast<float*>(kv_smem);  // [num_parts]
  const int64_t t = blockIdx.x, h = blockIdx.y;
  int lo = 0, hi = num_seqs - 1;  // the sequence owning token t: last s with query_start_loc[s] <= t
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (a.query_start_loc[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  const int64_t q0 = a.query_start_loc[lo], len = a.query_start_loc[lo + 1] - q0;
  const int64_t last = a.seq_lens[lo] - len + (t - q0);  // last visible position
  const int parts = static_cast<int>(last / a.part_size) + 1;
  const int64_t base = (t * a.n_heads + h) * a.num_parts;
  float gmax = -INFINITY;
  for (int j = 0; j < parts; ++j) gmax = fmaxf(gmax, a.part_m[base + j]);
  for (int j = threadIdx.x; j < parts; j += blockDim.x) weight[j] = expf(a.part_m[base + j] - gmax);
  __syncthreads();  // weights visible to every thread
  float total = 0.0f;
  for (int j = 0; j < parts; ++j) total = weight[j] * a.part_l[base + j] + total;
  const float inv = 1.0f / total;
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < parts; ++j) acc = weight[j] * a.part_o[(base + j) * a.head_dim + d] + acc;
    a.out[(t * a.n_heads + h) * a.head_dim + d] = acc * inv;
  }
}

template <DType T>
void launch(const Args& a, dim3 grid, size_t smem, bool split, Stream stream) {
  auto* kernel = split ? &paged_attention_kernel<T, true> : &paged_attention_kernel<T, false>;
  if (smem > 48 * 1024) KV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  KV_LAUNCH(kernel, grid, kThreads, smem, stream)(a);
  KV_CUDA_CHECK_LAUNCH();
}

}  // namespace

int64_t paged_attention_partition_size(int64_t max_query_len, int64_t max_seq_len) {
  return max_query_len <= kPagedAttentionSplitMaxQueryLen && max_seq_len >= kPagedAttentionSplitMinContext
             ? kPagedAttentionPartition
             : 0;
}

size_t paged_attention_workspace_floats(int64_t num_tokens, int64_t n_heads, int64_t head_dim, int64_t max_seq_len,
                                        int64_t partition_size) {
  if (partition_size <= 0) return 0;
  const int64_t parts = (max_seq_len + partition_size - 1) / partition_size;
  return static_cast<size_t>(num_tokens * n_heads * parts * (head_dim + 2));
}

void paged_attention_cuda(float* out, const float* q, const void* k_cache, const void* v_cache, DType kv_dtype,
                          const int32_t* query_start_loc, const int32_t* seq_lens, const int32_t* block_tables,
                          int64_t max_blocks_per_seq, int64_t num_seqs, int64_t n_heads, int64_t n_kv_heads,
                          int64_t head_dim, int64_t block_size, float scale, const PagedAttentionPlan& plan,
                          Stream stream) {
  if (num_seqs <= 0 || plan.num_tokens <= 0 || plan.max_query_len <= 0) return;
  if (head_dim < 1 || head_dim > kPagedAttentionMaxHeadDim) {
    throw std::invalid_argument("paged_attention_cuda: head_dim " + std::to_string(head_dim) + " is outside [1, " +
                                std::to_string(kPagedAttentionMaxHeadDim) + "]");
  }
  const bool split = plan.partition_size > 0;
  if (split && (plan.partition_size % kChunk != 0 || !plan.workspace)) {
    throw std::invalid_argument("paged_attention_cuda: partition_size must be a multiple of 16 with a workspace");
  }
  const int64_t group = n_heads / n_kv_heads;
  const int64_t vectors = head_dim <= 128 ? 16 : 8;
  const int64_t heads_per_block = std::min(group, vectors);
  const int64_t rows_per_block = std::max<int64_t>(1, vectors / group);
  const int64_t head_chunks = (group + heads_per_block - 1) / heads_per_block;
  const int64_t row_tiles = (plan.max_query_len + rows_per_block - 1) / rows_per_block;
  const int64_t num_parts = split ? (plan.max_seq_len + plan.partition_size - 1) / plan.partition_size : 1;

  Args a{};
  a.out = out;
  a.q = q;
  a.k_cache = k_cache;
  a.v_cache = v_cache;
  a.query_start_loc = query_start_loc;
  a.seq_lens = seq_lens;
  a.block_tables = block_tables;
  const int64_t slots = plan.num_tokens * n_heads * num_parts;
  a.part_o = split ? plan.workspace : nullptr;
  a.part_m = split ? plan.workspace + slots * head_dim : nullptr;
  a.part_l = split ? a.part_m + slots : nullptr;
  a.max_blocks_per_seq = max_blocks_per_seq;
  a.block_size = block_size;
  a.part_size = split ? plan.partition_size : (int64_t{1} << 62);
  a.n_heads = static_cast<int32_t>(n_heads);
  a.n_kv_heads = static_cast<int32_t>(n_kv_heads);
  a.head_dim = static_cast<int32_t>(head_dim);
  a.group = static_cast<int32_t>(group);
  a.rows_per_block = static_cast<int32_t>(rows_per_block);
  a.heads_per_block = static_cast<int32_t>(heads_per_block);
  a.head_chunks = static_cast<int32_t>(head_chunks);
  a.num_parts = static_cast<int32_t>(num_parts);
  a.max_vectors = static_cast<int32_t>(rows_per_block * heads_per_block);
  a.scale = scale;

  const int64_t mv = a.max_vectors, dp = head_dim + 1;
  const size_t smem = static_cast<size_t>(mv * dp + mv * head_dim + kChunk * dp + kChunk * head_dim + mv * kChunk + 3 * mv) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(row_tiles * head_chunks * num_parts), static_cast<unsigned>(n_kv_heads),
                  static_cast<unsigned>(num_seqs));
  switch (kv_dtype) {
    case DType::F16: launch<DType::F16>(a, grid, smem, split, stream); break;
    case DType::BF16: launch<DType::BF16>(a, grid, smem, split, stream); break;
    default: launch<DType::F32>(a, grid, smem, split, stream); break;
  }
  if (split) {
    const dim3 rgrid(static_cast<unsigned>(plan.num_tokens), static_cast<unsigned>(n_heads));
    KV_LAUNCH(paged_attention_reduce_kernel, rgrid, kThreads, static_cast<size_t>(num_parts) * sizeof(float), stream)(
        a, static_cast<int32_t>(num_seqs));
    KV_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace kv::cuda
