// LLaMA-family forward pass over a paged KV cache, as op calls on a backend's op table. Per layer:
//   [residual +] rms_norm -> q/k/v matmul (+bias) -> [q/k rms_norm] -> rope -> kv_cache_write
//   -> paged_attention -> o matmul -> residual + rms_norm -> gate/up matmul -> silu_mul -> down matmul
// with the fused ops of core/backend_ops.h (norms and silu_mul inside the next matmul's input, rope with
// the cache write), then the last residual, the logits rows gathered, the final norm and the output
// projection for those rows only.
#include "models/llama.h"

#include <cmath>
#include <stdexcept>

#include "backends/cpu/cpu_ops.h"
#include "core/huge_pages.h"
#include "core/mapped_file.h"
#include "core/rope_freqs.h"
#include "ops/matmul/matmul.h"

namespace kv {

namespace {

std::string blk(int64_t i, const char* suffix) { return "blk." + std::to_string(i) + "." + suffix; }

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
  LlamaTensors& t = tensors_;
  t.token_embd = embd.data;
  t.token_embd_dtype = embd.dtype;
  t.output = w.matrix(c.tied_embeddings || !w.has("output.weight") ? "token_embd.weight" : "output.weight", c.vocab_size, d);
  t.output_norm = w.vector_f32("output_norm.weight", d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LlamaLayer l;
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
    t.layers.push_back(l);
  }
  const float* freq_factors = w.has("rope_freqs.weight") ? w.vector_f32("rope_freqs.weight", c.rope_dim / 2) : nullptr;
  Llama3Scaling llama3{c.llama3_factor, c.llama3_low_freq_factor, c.llama3_high_freq_factor,
                       c.llama3_original_max_position};
  inv_freq_ = rope_inv_freq(c.rope_dim, c.rope_theta, freq_factors, c.llama3_scaling ? &llama3 : nullptr);
  t.inv_freq = inv_freq_.data();
}

int64_t LlamaModel::pack_weights(Isa isa, ThreadPool& pool) {
  const char* env = std::getenv("KVSERVE_PACK_WEIGHTS");
  if (env && std::string(env) == "0") return 0;
  std::vector<WeightView*> all;
  for (LlamaLayer& l : tensors_.layers) {
    for (WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) all.push_back(w);
  }
  all.push_back(&tensors_.output);
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

void LlamaModel::forward(const StepInput& in, KvCache& cache, ThreadPool& pool, Isa isa, StepOutput& out) {
  const LlamaConfig& c = config_;
  const int64_t t = in.num_tokens(), r = in.num_logits();
  ensure_buffers(t, r);
  out.logits.resize(static_cast<size_t>(r * c.vocab_size));
  k_layers_.resize(static_cast<size_t>(c.num_layers));
  v_layers_.resize(static_cast<size_t>(c.num_layers));
  for (int64_t li = 0; li < c.num_layers; ++li) k_layers_[li] = cache.k(li), v_layers_[li] = cache.v(li);
  LlamaStepArgs args;
  args.num_tokens = t;
  args.num_logits = r;
  args.token_ids = in.token_ids.data();
  args.positions = in.positions.data();
  args.slot_mapping = in.slot_mapping.data();
  args.logits_indices = in.logits_indices.data();
  args.batch = {in.query_start_loc.data(), in.seq_lens.data(), in.block_tables.data(), in.max_blocks_per_seq, in.num_seqs()};
  args.k_cache = k_layers_.data();
  args.v_cache = v_layers_.data();
  args.kv_dtype = cache.dtype();
  args.block_size = cache.block_size();
  args.profile = &out.profile;
  const LlamaActivations act{x_.data(), h_.data(), q_.data(), k_.data(), v_.data(), attn_.data(), gate_.data(),
                             up_.data(), rows_.data(), out.logits.data()};
  CpuOps ops(isa, pool, scratch_);
  llama_forward(c, tensors_, ops, args, act);
}

void llama_forward(const LlamaConfig& c, const LlamaTensors& w, BackendOps& ops, const LlamaStepArgs& in,
                   const LlamaActivations& a) {
  const int64_t t = in.num_tokens, r = in.num_logits, d = c.hidden_size, hd = c.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  StepProfile* prof = in.profile;
  auto lap = [prof](int64_t layer, LayerOp op) {
    if (prof) prof->lap(layer, op);
  };
  auto step_lap = [prof](StepOp op) {
    if (prof) prof->lap(op);
  };
  if (t > 0) ops.embedding(a.x, w.token_embd, w.token_embd_dtype, d, in.token_ids, t);
  step_lap(StepOp::Embedding);
  // Each layer's residual add of its down projection is fused into the next layer's first norm (and
  // the last layer's done before the final norm): x += h happens inside add_rms_norm_matmuls.
  for (int64_t li = 0; t > 0 && li < c.num_layers; ++li) {
    const LlamaLayer& l = w.layers[li];
    {
      float* outs[3] = {a.q, a.k, a.v};
      const WeightView* ws[3] = {&l.wq, &l.wk, &l.wv};
      const float* bs[3] = {l.bq, l.bk, l.bv};
      ops.add_rms_norm_matmuls(a.x, li == 0 ? nullptr : a.h, l.attn_norm, c.rms_norm_eps, a.h, outs, ws, bs, 3, t);
    }
    lap(li, LayerOp::Qkv);
    if (c.qk_norm) {
      ops.rms_norm(a.q, a.q, l.q_norm, t * c.num_heads, hd, c.rms_norm_eps);
      ops.rms_norm(a.k, a.k, l.k_norm, t * c.num_kv_heads, hd, c.rms_norm_eps);
      lap(li, LayerOp::QkNorm);
    }
    ops.rope_kv_cache_write(a.q, a.k, a.v, t, c.num_heads, c.num_kv_heads, hd, c.rope_dim, in.positions, w.inv_freq,
                            c.rope_position_scale, c.rope_layout, in.k_cache[li], in.v_cache[li], in.kv_dtype,
                            in.slot_mapping, in.block_size);
    lap(li, LayerOp::RopeKvWrite);
    ops.paged_attention(a.attn, a.q, in.k_cache[li], in.v_cache[li], in.kv_dtype, in.batch, c.num_heads,
                        c.num_kv_heads, hd, in.block_size, scale);
    lap(li, LayerOp::Attention);
    ops.matmul(a.h, a.attn, l.wo, l.bo, t);
    lap(li, LayerOp::O);
    {
      float* outs[2] = {a.gate, a.up};
      const WeightView* ws[2] = {&l.w_gate, &l.w_up};
      const float* bs[2] = {nullptr, nullptr};
      ops.add_rms_norm_matmuls(a.x, a.h, l.ffn_norm, c.rms_norm_eps, a.h, outs, ws, bs, 2, t);
    }
    lap(li, LayerOp::GateUp);
    ops.silu_mul_matmul(a.h, a.gate, a.up, l.w_down, t);
    lap(li, LayerOp::Down);
  }
  if (t > 0) ops.add(a.x, a.x, a.h, t * d);  // the last layer's residual
  // Final norm and output projection for the requested rows only.
  if (r == 0) return;
  ops.gather_rows(a.rows, a.x, in.logits_indices, r, d);
  ops.rms_norm(a.rows, a.rows, w.output_norm, r, d, c.rms_norm_eps);
  step_lap(StepOp::FinalNorm);
  ops.matmul(a.logits, a.rows, w.output, nullptr, r);
  step_lap(StepOp::LmHead);
}

}  // namespace kv
