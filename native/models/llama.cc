// LLaMA-family forward pass over a paged KV cache. Per layer:
//   rms_norm -> q/k/v matmul (+bias) -> [q/k rms_norm] -> rope -> kv_cache_write -> paged_attention
//   -> o matmul -> residual -> rms_norm -> gate/up matmul -> silu_mul -> down matmul -> residual
// then the final norm and the output projection for the logits rows only.
#include "models/llama.h"

#include <cmath>
#include <stdexcept>

#include "core/huge_pages.h"
#include "core/mapped_file.h"
#include "core/rope_freqs.h"
#include "ops/add/add.h"
#include "ops/embedding/embedding.h"
#include "ops/kv_cache_write/kv_cache_write.h"
#include "ops/matmul/matmul.h"
#include "ops/paged_attention/paged_attention.h"
#include "ops/rms_norm/rms_norm.h"
#include "ops/rope/rope.h"
#include "ops/silu_mul/silu_mul.h"

namespace kv {

namespace {

std::string blk(int64_t i, const char* suffix) { return "blk." + std::to_string(i) + "." + suffix; }

// Splits `rows` rows of `cols` floats over the pool when there is enough work to pay for it.
template <typename Fn>
void for_row_ranges(ThreadPool& pool, int64_t rows, int64_t cols, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols));
  pool.parallel_for(rows, grain, [&](int64_t begin, int64_t end, int) { fn(begin, end); });
}

}  // namespace

LlamaModel::LlamaModel(const LlamaConfig& c, std::unique_ptr<ModelWeights> weights)
    : config_(c), weights_(std::move(weights)) {
  if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 ||
      c.intermediate_size <= 0 || c.vocab_size <= 0 || c.num_heads % c.num_kv_heads != 0 || c.rope_dim <= 0 ||
      c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    throw std::invalid_argument("model config: inconsistent dimensions");
  }
  ModelWeights& w = *weights_;
  const int64_t d = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  const TensorRef& embd = w.get("token_embd.weight");
  if (embd.shape.size() != 2 || embd.shape[0] != c.vocab_size || embd.shape[1] != d) {
    throw std::invalid_argument("tensor 'token_embd.weight': expected [vocab, hidden] = [" + std::to_string(c.vocab_size) +
                                ", " + std::to_string(d) + "]");
  }
  token_embd_ = embd.data;
  token_embd_dtype_ = embd.dtype;
  output_ = w.matrix(c.tied_embeddings || !w.has("output.weight") ? "token_embd.weight" : "output.weight", c.vocab_size, d);
  output_norm_ = w.vector_f32("output_norm.weight", d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    Layer l;
    l.attn_norm = w.vector_f32(blk(i, "attn_norm.weight"), d);
    l.wq = w.matrix(blk(i, "attn_q.weight"), qd, d);
    l.wk = w.matrix(blk(i, "attn_k.weight"), kvd, d);
    l.wv = w.matrix(blk(i, "attn_v.weight"), kvd, d);
    l.wo = w.matrix(blk(i, "attn_output.weight"), d, qd);
    if (c.qkv_bias) {
      l.bq = w.vector_f32(blk(i, "attn_q.bias"), qd);
      l.bk = w.vector_f32(blk(i, "attn_k.bias"), kvd);
      l.bv = w.vector_f32(blk(i, "attn_v.bias"), kvd);
    }
    if (c.attn_output_bias) l.bo = w.vector_f32(blk(i, "attn_output.bias"), d);
    if (c.qk_norm) {
      l.q_norm = w.vector_f32(blk(i, "attn_q_norm.weight"), c.head_dim);
      l.k_norm = w.vector_f32(blk(i, "attn_k_norm.weight"), c.head_dim);
    }
    l.ffn_norm = w.vector_f32(blk(i, "ffn_norm.weight"), d);
    l.w_gate = w.matrix(blk(i, "ffn_gate.weight"), c.intermediate_size, d);
    l.w_up = w.matrix(blk(i, "ffn_up.weight"), c.intermediate_size, d);
    l.w_down = w.matrix(blk(i, "ffn_down.weight"), d, c.intermediate_size);
    layers_.push_back(l);
  }
  const float* freq_factors = w.has("rope_freqs.weight") ? w.vector_f32("rope_freqs.weight", c.rope_dim / 2) : nullptr;
  Llama3Scaling llama3{c.llama3_factor, c.llama3_low_freq_factor, c.llama3_high_freq_factor,
                       c.llama3_original_max_position};
  inv_freq_ = rope_inv_freq(c.rope_dim, c.rope_theta, freq_factors, c.llama3_scaling ? &llama3 : nullptr);
}

int64_t LlamaModel::pack_weights(Isa isa, ThreadPool& pool) {
  const char* env = std::getenv("KVSERVE_PACK_WEIGHTS");
  if (env && std::string(env) == "0") return 0;
  std::vector<WeightView*> all;
  for (Layer& l : layers_) {
    for (WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) all.push_back(w);
  }
  all.push_back(&output_);
  // One buffer for every packed copy (each at a 64-byte boundary): on huge pages where allowed.
  std::vector<int64_t> bytes(all.size()), offsets(all.size());
  int64_t total = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    bytes[i] = KV_CPU_SELECT(isa, matmul_packed_bytes)(*all[i]);
    offsets[i] = total;
    if (bytes[i] > 0) total += (bytes[i] + 63) & ~int64_t(63);
  }
  if (total == 0) return 0;
  auto* base = static_cast<uint8_t*>(huge_alloc(static_cast<size_t>(total)));
  if (!base) throw std::bad_alloc();
  packed_.emplace_back(base);
  int64_t packed = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (bytes[i] <= 0) continue;
    WeightView& w = *all[i];
    uint8_t* dst = base + offsets[i];
    KV_CPU_DISPATCH(isa, matmul_pack, dst, w, pool);
    w.packed = dst;
    packed += bytes[i];
    MappedFile::release(w.data, static_cast<size_t>(w.rows * w.row_bytes()));  // the copy replaces these pages
  }
  return packed;
}

void LlamaModel::ensure_buffers(int64_t t, int64_t r) {
  const LlamaConfig& c = config_;
  auto grow = [](std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  };
  grow(x_, t * c.hidden_size);
  grow(h_, t * c.hidden_size);
  grow(q_, t * c.num_heads * c.head_dim);
  grow(attn_, t * c.num_heads * c.head_dim);
  grow(k_, t * c.num_kv_heads * c.head_dim);
  grow(v_, t * c.num_kv_heads * c.head_dim);
  grow(gate_, t * c.intermediate_size);
  grow(up_, t * c.intermediate_size);
  grow(rows_, r * c.hidden_size);
}

void LlamaModel::matmuls(Isa isa, float* const* outs, const float* x, const WeightView* const* ws,
                         const float* const* biases, int count, int64_t m, ThreadPool& pool) {
  bool shared = true;
  for (int i = 1; i < count; ++i) shared = shared && matmul_can_share(*ws[0], *ws[i]);
  if (shared) {
    KV_CPU_DISPATCH(isa, matmul_multi_cpu, outs, x, ws, biases, count, m, pool, scratch_);
    return;
  }
  for (int i = 0; i < count; ++i) KV_CPU_DISPATCH(isa, matmul_cpu, outs[i], x, *ws[i], biases[i], m, pool, scratch_);
}

void LlamaModel::forward(const StepInput& in, KvCache& cache, ThreadPool& pool, Isa isa, StepOutput& out) {
  const LlamaConfig& c = config_;
  const int64_t t = in.num_tokens(), r = in.num_logits(), d = c.hidden_size;
  const int64_t qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim, f = c.intermediate_size;
  ensure_buffers(t, r);
  float *x = x_.data(), *h = h_.data(), *q = q_.data(), *k = k_.data(), *v = v_.data();
  float *attn = attn_.data(), *gate = gate_.data(), *up = up_.data();
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  StepProfile& prof = out.profile;

  for_row_ranges(pool, t, d, [&](int64_t b, int64_t e) {
    KV_CPU_DISPATCH(isa, embedding_cpu, x + b * d, token_embd_, token_embd_dtype_, d, in.token_ids.data() + b, e - b);
  });
  prof.lap(StepOp::Embedding);

  for (int64_t li = 0; li < c.num_layers; ++li) {
    const Layer& l = layers_[li];
    for_row_ranges(pool, t, d, [&](int64_t b, int64_t e) {
      KV_CPU_DISPATCH(isa, rms_norm_cpu, h + b * d, x + b * d, l.attn_norm, e - b, d, c.rms_norm_eps);
    });
    prof.lap(li, LayerOp::AttnNorm);
    {
      float* outs[3] = {q, k, v};
      const WeightView* ws[3] = {&l.wq, &l.wk, &l.wv};
      const float* bs[3] = {l.bq, l.bk, l.bv};
      matmuls(isa, outs, h, ws, bs, 3, t, pool);
    }
    prof.lap(li, LayerOp::Qkv);
    if (c.qk_norm) {
      for_row_ranges(pool, t * c.num_heads, c.head_dim, [&](int64_t b, int64_t e) {
        KV_CPU_DISPATCH(isa, rms_norm_cpu, q + b * c.head_dim, q + b * c.head_dim, l.q_norm, e - b, c.head_dim, c.rms_norm_eps);
      });
      for_row_ranges(pool, t * c.num_kv_heads, c.head_dim, [&](int64_t b, int64_t e) {
        KV_CPU_DISPATCH(isa, rms_norm_cpu, k + b * c.head_dim, k + b * c.head_dim, l.k_norm, e - b, c.head_dim, c.rms_norm_eps);
      });
      prof.lap(li, LayerOp::QkNorm);
    }
    for_row_ranges(pool, t, qd, [&](int64_t b, int64_t e) {
      KV_CPU_DISPATCH(isa, rope_cpu, q + b * qd, e - b, c.num_heads, c.head_dim, c.rope_dim, in.positions.data() + b,
                      inv_freq_.data(), c.rope_position_scale, c.rope_layout);
      KV_CPU_DISPATCH(isa, rope_cpu, k + b * kvd, e - b, c.num_kv_heads, c.head_dim, c.rope_dim, in.positions.data() + b,
                      inv_freq_.data(), c.rope_position_scale, c.rope_layout);
    });
    prof.lap(li, LayerOp::Rope);
    KV_CPU_DISPATCH(isa, kv_cache_write_cpu, cache.k(li), cache.v(li), cache.dtype(), k, v, in.slot_mapping.data(), t,
                    c.num_kv_heads, c.head_dim, cache.block_size());
    prof.lap(li, LayerOp::KvWrite);
    KV_CPU_DISPATCH(isa, paged_attention_cpu, attn, q, cache.k(li), cache.v(li), cache.dtype(), in.query_start_loc.data(),
                    in.seq_lens.data(), in.block_tables.data(), in.max_blocks_per_seq, in.num_seqs(), c.num_heads,
                    c.num_kv_heads, c.head_dim, cache.block_size(), scale, pool, scratch_);
    prof.lap(li, LayerOp::Attention);
    KV_CPU_DISPATCH(isa, matmul_cpu, h, attn, l.wo, l.bo, t, pool, scratch_);
    prof.lap(li, LayerOp::O);
    for_row_ranges(pool, t, d, [&](int64_t b, int64_t e) {
      KV_CPU_DISPATCH(isa, add_cpu, x + b * d, x + b * d, h + b * d, (e - b) * d);
      KV_CPU_DISPATCH(isa, rms_norm_cpu, h + b * d, x + b * d, l.ffn_norm, e - b, d, c.rms_norm_eps);
    });
    prof.lap(li, LayerOp::AddNorm);
    {
      float* outs[2] = {gate, up};
      const WeightView* ws[2] = {&l.w_gate, &l.w_up};
      const float* bs[2] = {nullptr, nullptr};
      matmuls(isa, outs, h, ws, bs, 2, t, pool);
    }
    prof.lap(li, LayerOp::GateUp);
    for_row_ranges(pool, t, f, [&](int64_t b, int64_t e) {
      KV_CPU_DISPATCH(isa, silu_mul_cpu, gate + b * f, gate + b * f, up + b * f, (e - b) * f);
    });
    prof.lap(li, LayerOp::SiluMul);
    KV_CPU_DISPATCH(isa, matmul_cpu, h, gate, l.w_down, nullptr, t, pool, scratch_);
    prof.lap(li, LayerOp::Down);
    for_row_ranges(pool, t, d, [&](int64_t b, int64_t e) {
      KV_CPU_DISPATCH(isa, add_cpu, x + b * d, x + b * d, h + b * d, (e - b) * d);
    });
    prof.lap(li, LayerOp::Add);
  }

  // Final norm and output projection for the requested rows only.
  float* rows = rows_.data();
  for (int64_t i = 0; i < r; ++i) {
    const int64_t src = in.logits_indices[i];
    KV_CPU_DISPATCH(isa, rms_norm_cpu, rows + i * d, x + src * d, output_norm_, 1, d, c.rms_norm_eps);
  }
  prof.lap(StepOp::FinalNorm);
  out.logits.resize(static_cast<size_t>(r * c.vocab_size));
  if (r > 0) KV_CPU_DISPATCH(isa, matmul_cpu, out.logits.data(), rows, output_, nullptr, r, pool, scratch_);
  prof.lap(StepOp::LmHead);
}

}  // namespace kv
