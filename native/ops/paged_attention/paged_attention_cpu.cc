// CPU kernel for paged_attention (see paged_attention.h for what it computes, shapes and invariants).
//
// Work split: one task per (sequence, kv head, tile of R query rows), R = max(1, 16 / G) with
// G = n_heads / n_kv_heads, so a task owns M = rows x G query vectors (m = row * G + g) that all read
// the same K/V rows. Tasks are sorted longest first (rows x visited positions) and pulled from an
// atomic counter, so a long prefill tile never starts last on a busy thread.
//
// Per task, positions 0 .. C - L + row_end - 1 are visited in chunks of kChunk = 16 (one AVX-512
// vector of scores per query vector); the rows of the next chunk are prefetched, since blocks sit at
// addresses the hardware prefetcher cannot guess:
//   1. S[m, i] = (scale q_m) . K[p0 + i]. With M >= 4 the K chunk is transposed in registers once
//      (f16/bf16 widened on the way) and each score row is a broadcast-FMA sum over head_dim; with
//      fewer query vectors (decode without GQA), register blocks of MB vectors x NP positions with
//      horizontal sums. Either way each K element is loaded once per block of query vectors.
//   2. online softmax: causal mask (row r sees p <= C - L + row_begin + r), running max, alpha =
//      exp(old max - new max) (exactly 1, no exp, when the max holds), P = exp(S - max), l = alpha l + sum P.
//   3. O[m, :] = alpha O[m, :] + sum_i P[m, i] V[p0 + i]: a register block of MB query vectors x DC
//      vectors of head_dim; each V vector is converted once and used by MB FMAs.
// Then out = O / l. Memory per task is O(M x head_dim): no [L, C] score matrix. The portable variant
// converts each chunk's f16/bf16 rows to f32 in scratch first and runs the same loops on scalars.
// No lambdas hold vector code: GCC does not apply the ISA target pragma to them.
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
constexpr int kTransposeMinVectors = 4;  // from this many query vectors, score from a transposed K chunk
constexpr int kPrefetchChunks = 2;  // rows requested ahead (into L2): this chunk and the next (all at once for MLP)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#include "ops/paged_attention/paged_attention_vec.inc"

// ---- step 1: scores ----

// acc[m][p] += q_m[d .. d+W) * K[p][d .. d+W); Tail: only `tail` (< W) values remain in the rows.
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

// With several query vectors, transposing the chunk once (kt[d * kChunk + i] = K[i][d]) beats
// horizontal sums: s_m = sum_d q_m[d] * kt[d] is a broadcast FMA per d on vectors over positions.
// q is transposed too (qt[d * M + m]), so one pointer walks every row of the block.
template <int MB>
inline void score_rows_t(const float* qt, int64_t M, const float* kt, int64_t head_dim, float* s) {
  constexpr int NV = kChunk / W;
  vec acc[MB][NV];
  for (int m = 0; m < MB; ++m)
    for (int v = 0; v < NV; ++v) acc[m][v] = vzero();
  for (int64_t d = 0; d < head_dim; ++d) {
    vec k[NV];
    for (int v = 0; v < NV; ++v) k[v] = vload(kt + d * kChunk + v * W);
    const float* qd = qt + d * M;
    for (int m = 0; m < MB; ++m) {
      const vec qb = vset1(qd[m]);
      for (int v = 0; v < NV; ++v) acc[m][v] = vfma(qb, k[v], acc[m][v]);
    }
  }
  for (int m = 0; m < MB; ++m)
    for (int v = 0; v < NV; ++v) vstore(s + m * kChunk + v * W, acc[m][v]);
}

template <DType T>
void chunk_scores_t(const float* qt, int M, int64_t head_dim, const void* const* krow, float* kt, float* s) {
  transpose_chunk<T>(krow, head_dim, kt);
  int m = 0;
  for (; m + kScoreTMB <= M; m += kScoreTMB) score_rows_t<kScoreTMB>(qt + m, M, kt, head_dim, s + m * kChunk);
  if constexpr (kScoreTMB > 4) {
    for (; m + 4 <= M; m += 4) score_rows_t<4>(qt + m, M, kt, head_dim, s + m * kChunk);
  }
  if constexpr (kScoreTMB > 2) {
    for (; m + 2 <= M; m += 2) score_rows_t<2>(qt + m, M, kt, head_dim, s + m * kChunk);
  }
  if constexpr (kScoreTMB > 1) {
    for (; m < M; ++m) score_rows_t<1>(qt + m, M, kt, head_dim, s + m * kChunk);
  }
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

// Floats of one thread's working region: q and O tiles, scores, max/sum/alpha, portable K/V staging,
// transposed K chunk.
inline int64_t region_floats(const Params& p) {
  return 2 * p.max_vectors * p.dp + p.max_vectors * kChunk + 3 * pad16(p.max_vectors) + 3 * kChunk * p.dp;
}

// K/V row addresses of the next n positions of a sequence (kv head at head_bytes into each block);
// advances the (block_index, offset) cursor.
inline void chunk_rows(const Params& pr, const int32_t* table, int64_t head_bytes, int64_t& block_index,
                       int64_t& offset, int n, const void** krow, const void** vrow) {
  const int64_t row_bytes = pr.head_dim * pr.elem_bytes;
  const int64_t block_bytes = pr.n_kv_heads * pr.block_size * row_bytes;
  for (int i = 0; i < n; ++i) {
    const int64_t at = table[block_index] * block_bytes + head_bytes + offset * row_bytes;
    krow[i] = pr.k_cache + at;
    vrow[i] = pr.v_cache + at;
    if (++offset == pr.block_size) offset = 0, ++block_index;
  }
}

// Requests every cache line of [p, p + bytes).
inline void prefetch_bytes(const uint8_t* p, int64_t bytes) {
#if defined(__GNUC__)
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63); line < end; line += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 2);
  }
#else
  (void)p, (void)bytes;
#endif
}

// How many of a chunk's n positions a row sees, given its last visible position relative to the chunk.
inline int visible_count(int64_t last, int n) {
  return static_cast<int>(std::min<int64_t>(n, std::max<int64_t>(0, last + 1)));
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
  float* kt = vbuf + kChunk * dp;

  // q of this tile with the scale folded in; m = row * G + g. Row-major and zero-padded to dp for the
  // dot-product scores, transposed (qt[d * M + m]) for the transposed-K scores.
  const bool transposed = M >= kTransposeMinVectors;
  for (int r = 0; r < rows; ++r) {
    const float* src = q + ((q0 + task.row_begin + r) * pr.n_heads + task.kv_head * G) * D;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t m = r * G + g;
      if (transposed) {
        for (int64_t d = 0; d < D; ++d) qs[d * M + m] = src[g * D + d] * pr.scale;
      } else {
        float* dst = qs + m * dp;
        for (int64_t d = 0; d < D; ++d) dst[d] = src[g * D + d] * pr.scale;
        std::fill(dst + D, dst + dp, 0.0f);
      }
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
  int64_t block_index = 0, offset = 0;  // cursor of the next chunk to compute
  int64_t pf_pos = 0, pf_block = 0, pf_offset = 0;  // cursor of the next row to prefetch
  const void* krow[kChunk];
  const void* vrow[kChunk];

  for (int64_t p0 = 0; p0 < kv_end; p0 += kChunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, kv_end - p0));
    // Blocks sit at random addresses, which the hardware prefetcher cannot guess: keep the rows of the
    // next chunks in flight while this one computes.
    for (const int64_t pf_end = std::min(kv_end, p0 + kPrefetchChunks * kChunk); pf_pos < pf_end;) {
      const int64_t span = std::min(pf_end - pf_pos, pr.block_size - pf_offset);  // rows contiguous in a block
      const int64_t at = table[pf_block] * block_bytes + head_bytes + pf_offset * row_bytes;
      prefetch_bytes(pr.k_cache + at, span * row_bytes);
      prefetch_bytes(pr.v_cache + at, span * row_bytes);
      pf_pos += span;
      if ((pf_offset += span) == pr.block_size) pf_offset = 0, ++pf_block;
    }
    chunk_rows(pr, table, head_bytes, block_index, offset, n, krow, vrow);
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

    if (transposed) chunk_scores_t<TL>(qs, M, D, krow, kt, sc);
    else chunk_scores<TL>(qs, M, dp, D, krow, n, sc);
    for (int m = 0; m < M; ++m) {  // online softmax
      float* sr = sc + m * kChunk;
      const int cnt = visible_count(limit0 + m / G - p0, n);
      if (cnt == 0) {  // every position of the chunk is in this row's future
        std::fill(sr, sr + kChunk, 0.0f);
        alpha[m] = 1.0f;
        continue;
      }
      const float cmax = row_max(sr, cnt);
      float a = 1.0f;
      if (cmax > mx[m]) {  // the running max grew: rescale what came before (nothing on the first chunk)
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

// Runs tasks from the shared counter until none are left, in this thread's scratch region.
template <DType T>
void drain_tasks(std::atomic<int64_t>& next, const Task* tasks, int64_t num_tasks, const Params& pr, float* region,
                 float* out, const float* q) {
  for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < num_tasks;) run_task<T>(tasks[i], pr, region, out, q);
}

template <DType T>
void run_tasks(const Task* tasks, int64_t num_tasks, const Params& pr, float* regions, int64_t region_stride,
               float* out, const float* q, ThreadPool& pool) {
  std::atomic<int64_t> next{0};
  if (pool.num_threads() == 1 || num_tasks == 1) {
    drain_tasks<T>(next, tasks, num_tasks, pr, regions, out, q);
    return;
  }
  // One item per thread; each pulls tasks until none are left, so uneven tasks balance.
  pool.parallel_for(pool.num_threads(), 1, [&](int64_t, int64_t, int thread_index) {
    drain_tasks<T>(next, tasks, num_tasks, pr, regions + thread_index * region_stride, out, q);
  });
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
