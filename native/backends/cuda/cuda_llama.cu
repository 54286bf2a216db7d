// CudaLlamaModel (see cuda_llama.h): weights and KV cache in device memory, one stream, one upload and one
// download per step. The forward pass is models/llama.cc's llama_forward, the same op list the CPU runs,
// on the CUDA backend's op table (cuda_ops.h); then sample (or argmax) on the device.
#include "backends/cuda/cuda_llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <map>
#include <stdexcept>

#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/device_memory.h"
#include "core/cuda/device_util.cuh"
#include "ops/argmax/argmax_cuda.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/paged_attention/paged_attention_cuda.h"
#include "ops/sample/sample_cuda.h"

namespace kv::cuda {

namespace {

size_t align256(size_t n) { return (n + 255) & ~size_t(255); }

// Byte offsets of the sections of one packed buffer, each 256-byte aligned.
class Layout {
 public:
  size_t add(size_t bytes) {
    const size_t at = total_;
    total_ = align256(total_ + bytes);
    return at;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

}  // namespace

struct CudaLlamaModel::Impl {
  LlamaConfig c;
  int device = 0;
  cudaStream_t stream = nullptr;
  std::string name;
  // Weights: one allocation per distinct host tensor (tied embeddings share one).
  std::vector<DeviceMemory> weights;
  std::map<const void*, const void*> uploaded;
  int64_t weight_bytes = 0;
  LlamaTensors dev;  // the model's tensors, device copies
  // KV cache, per layer.
  CudaKvConfig kv;
  int64_t block_bytes = 0;
  std::vector<DeviceMemory> k_cache, v_cache;
  std::vector<void*> k_layers, v_layers;  // their pointers, as llama_forward takes them
  // Per-step memory, grown to the largest step.
  DeviceMemory x, h, q, k, v, attn, gate, up, rows, logits, matmul_ws, attn_ws, sample_ws, in_dev, out_dev;
  PinnedMemory in_host, out_host;

  ~Impl() {
    if (stream) cudaStreamDestroy(stream);
  }

  const void* upload(const void* host, size_t bytes) {
    auto it = uploaded.find(host);
    if (it != uploaded.end()) return it->second;
    DeviceMemory m(bytes);
    KV_CUDA_CHECK(cudaMemcpy(m.get(), host, bytes, cudaMemcpyHostToDevice));
    const void* dev = m.get();
    weights.push_back(std::move(m));
    uploaded[host] = dev;
    weight_bytes += static_cast<int64_t>(bytes);
    return dev;
  }
  const float* upload_vector(const float* host, int64_t n) {
    return host ? static_cast<const float*>(upload(host, static_cast<size_t>(n) * sizeof(float))) : nullptr;
  }
  WeightView upload_matrix(const WeightView& w) {
    WeightView d = w;
    d.data = upload(w.data, static_cast<size_t>(w.rows * w.row_bytes()));
    return d;
  }

  void forward(const StepInput& in, const int32_t* d_tokens, const int32_t* d_positions, const int32_t* d_slots,
               const int32_t* d_qsl, const int32_t* d_seq_lens, const int32_t* d_tables, const int32_t* d_rows);
};

CudaLlamaModel::CudaLlamaModel(const LlamaModel& model, const CudaKvConfig& kv, int device) : impl_(new Impl) {
  Impl& m = *impl_;
  m.c = model.config();
  m.device = device;
  m.kv = kv;
  if (kv.dtype != DType::F32 && kv.dtype != DType::F16 && kv.dtype != DType::BF16) {
    throw std::invalid_argument(std::string("kvCacheDtype: expected F32, F16 or BF16, got ") + dtype_name(kv.dtype));
  }
  if (m.c.head_dim > kPagedAttentionMaxHeadDim) {
    throw std::invalid_argument("head_dim " + std::to_string(m.c.head_dim) + " is above the CUDA attention kernel's " +
                                std::to_string(kPagedAttentionMaxHeadDim));
  }
  KV_CUDA_CHECK(cudaSetDevice(device));
  cudaDeviceProp prop;
  KV_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  m.name = prop.name;
  KV_CUDA_CHECK(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));

  const LlamaConfig& c = m.c;
  const int64_t d = c.hidden_size, hd = c.head_dim;
  const LlamaTensors& host = model.tensors();
  for (const LlamaLayer& l : host.layers) {
    LlamaLayer dl;
    dl.attn_norm = m.upload_vector(l.attn_norm, d);
    dl.wq = m.upload_matrix(l.wq);
    dl.wk = m.upload_matrix(l.wk);
    dl.wv = m.upload_matrix(l.wv);
    dl.wo = m.upload_matrix(l.wo);
    dl.bq = m.upload_vector(l.bq, c.num_heads * hd);
    dl.bk = m.upload_vector(l.bk, c.num_kv_heads * hd);
    dl.bv = m.upload_vector(l.bv, c.num_kv_heads * hd);
    dl.bo = m.upload_vector(l.bo, d);
    dl.q_norm = m.upload_vector(l.q_norm, hd);
    dl.k_norm = m.upload_vector(l.k_norm, hd);
    dl.ffn_norm = m.upload_vector(l.ffn_norm, d);
    dl.w_gate = m.upload_matrix(l.w_gate);
    dl.w_up = m.upload_matrix(l.w_up);
    dl.w_down = m.upload_matrix(l.w_down);
    m.dev.layers.push_back(dl);
  }
  m.dev.token_embd_dtype = host.token_embd_dtype;
  m.dev.token_embd = m.upload(host.token_embd, static_cast<size_t>(c.vocab_size * dtype_row_bytes(host.token_embd_dtype, d)));
  m.dev.output = m.upload_matrix(host.output);
  m.dev.output_norm = m.upload_vector(host.output_norm, d);
  m.dev.inv_freq = m.upload_vector(model.inv_freq().data(), static_cast<int64_t>(model.inv_freq().size()));

  m.block_bytes = c.num_kv_heads * kv.block_size * hd * dtype_block_bytes(kv.dtype);
  const size_t layer_bytes = static_cast<size_t>(kv.num_blocks * m.block_bytes);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    m.k_cache.emplace_back(layer_bytes);
    m.v_cache.emplace_back(layer_bytes);
    // Zeroed so that a bug reading an unwritten slot gives zeros, as the CPU cache does.
    KV_CUDA_CHECK(cudaMemsetAsync(m.k_cache.back().get(), 0, layer_bytes, m.stream));
    KV_CUDA_CHECK(cudaMemsetAsync(m.v_cache.back().get(), 0, layer_bytes, m.stream));
    m.k_layers.push_back(m.k_cache.back().get());
    m.v_layers.push_back(m.v_cache.back().get());
  }
  KV_CUDA_CHECK(cudaStreamSynchronize(m.stream));
}

CudaLlamaModel::~CudaLlamaModel() = default;

const LlamaConfig& CudaLlamaModel::config() const { return impl_->c; }
int64_t CudaLlamaModel::kv_cache_bytes() const { return 2 * impl_->c.num_layers * impl_->kv.num_blocks * impl_->block_bytes; }
int64_t CudaLlamaModel::kv_bytes_per_token() const {
  return 2 * impl_->c.num_layers * impl_->c.num_kv_heads * impl_->c.head_dim * dtype_block_bytes(impl_->kv.dtype);
}
int64_t CudaLlamaModel::weight_bytes() const { return impl_->weight_bytes; }
int64_t CudaLlamaModel::num_blocks() const { return impl_->kv.num_blocks; }
int64_t CudaLlamaModel::block_size() const { return impl_->kv.block_size; }
std::string CudaLlamaModel::device_name() const { return impl_->name; }

void CudaLlamaModel::Impl::forward(const StepInput& in, const int32_t* d_tokens, const int32_t* d_positions,
                                   const int32_t* d_slots, const int32_t* d_qsl, const int32_t* d_seq_lens,
                                   const int32_t* d_tables, const int32_t* d_rows) {
  const int64_t t = in.num_tokens(), r = in.num_logits();
  const int64_t d = c.hidden_size, hd = c.head_dim, qd = c.num_heads * hd, kvd = c.num_kv_heads * hd;
  const int64_t f = c.intermediate_size;
  x.ensure(t * d * 4);
  h.ensure(t * d * 4);
  q.ensure(t * qd * 4);
  attn.ensure(t * qd * 4);
  k.ensure(t * kvd * 4);
  v.ensure(t * kvd * 4);
  gate.ensure(t * f * 4);
  up.ensure(t * f * 4);
  rows.ensure(r * d * 4);
  logits.ensure(r * c.vocab_size * 4);
  size_t ws = matmul_cuda_workspace_bytes(dev.output.dtype, r, d);
  for (const LlamaLayer& l : dev.layers) {
    for (const WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      ws = std::max(ws, matmul_cuda_workspace_bytes(w->dtype, t, w->cols));
  }
  matmul_ws.ensure(ws);

  PagedAttentionPlan plan;
  plan.num_tokens = t;
  for (int64_t s = 0; s < in.num_seqs(); ++s) {
    plan.max_query_len = std::max<int64_t>(plan.max_query_len, in.query_start_loc[s + 1] - in.query_start_loc[s]);
    plan.max_seq_len = std::max<int64_t>(plan.max_seq_len, in.seq_lens[s]);
  }
  plan.partition_size = paged_attention_partition_size(plan.max_query_len, plan.max_seq_len);
  attn_ws.ensure(paged_attention_workspace_floats(t, c.num_heads, hd, plan.max_seq_len, plan.partition_size) * 4);
  plan.workspace = plan.partition_size ? attn_ws.get<float>() : nullptr;

  LlamaStepArgs args;
  args.num_tokens = t;
  args.num_logits = r;
  args.token_ids = d_tokens;
  args.positions = d_positions;
  args.slot_mapping = d_slots;
  args.logits_indices = d_rows;
  args.batch = {d_qsl, d_seq_lens, d_tables, in.max_blocks_per_seq, in.num_seqs()};
  args.k_cache = k_layers.data();
  args.v_cache = v_layers.data();
  args.kv_dtype = kv.dtype;
  args.block_size = kv.block_size;
  const LlamaActivations act{x.get<float>(), h.get<float>(), q.get<float>(), k.get<float>(), v.get<float>(),
                             attn.get<float>(), gate.get<float>(), up.get<float>(), rows.get<float>(),
                             logits.get<float>()};
  CudaOps ops(stream, matmul_ws.get(), plan);
  llama_forward(c, dev, ops, args, act);
}

void CudaLlamaModel::step(const StepInput& in, const SamplingArrays* sampling, CudaStepResult& out) {
  Impl& m = *impl_;
  const LlamaConfig& c = m.c;
  const int64_t t = in.num_tokens(), s = in.num_seqs(), r = in.num_logits(), vocab = c.vocab_size;
  const int32_t top = sampling ? sampling->max_logprobs : 0;
  KV_CUDA_CHECK(cudaSetDevice(m.device));

  // One upload: the StepInput arrays, then the sampling arrays.
  Layout il;
  const size_t o_tokens = il.add(t * 4), o_pos = il.add(t * 4), o_slots = il.add(t * 4), o_qsl = il.add((s + 1) * 4);
  const size_t o_lens = il.add(s * 4), o_tables = il.add(in.block_tables.size() * 4), o_rows = il.add(r * 4);
  const size_t o_params = il.add(sampling ? r * sizeof(SampleParams) : 0);
  const size_t o_hist = il.add(sampling ? sampling->history_len * 4 : 0);
  const size_t o_bias_ids = il.add(sampling ? sampling->bias_len * 4 : 0);
  const size_t o_bias_vals = il.add(sampling ? sampling->bias_len * 4 : 0);
  m.in_host.ensure(il.total());
  m.in_dev.ensure(il.total());
  uint8_t* hb = m.in_host.get();
  auto put = [hb](size_t at, const void* src, size_t bytes) {
    if (bytes) std::memcpy(hb + at, src, bytes);
  };
  put(o_tokens, in.token_ids.data(), t * 4);
  put(o_pos, in.positions.data(), t * 4);
  put(o_slots, in.slot_mapping.data(), t * 4);
  put(o_qsl, in.query_start_loc.data(), in.query_start_loc.size() * 4);
  put(o_lens, in.seq_lens.data(), s * 4);
  put(o_tables, in.block_tables.data(), in.block_tables.size() * 4);
  put(o_rows, in.logits_indices.data(), r * 4);
  int64_t max_saved = 1;
  if (sampling) {
    put(o_params, sampling->params, r * sizeof(SampleParams));
    put(o_hist, sampling->history, sampling->history_len * 4);
    put(o_bias_ids, sampling->bias_token_ids, sampling->bias_len * 4);
    put(o_bias_vals, sampling->bias_values, sampling->bias_len * 4);
    for (int64_t i = 0; i < r; ++i) {
      const SampleParams& p = sampling->params[i];
      max_saved = std::max<int64_t>(max_saved, int64_t{p.num_bias} + p.num_prompt_history + p.num_output_history);
    }
  }
  KV_CUDA_CHECK(cudaMemcpyAsync(m.in_dev.get(), hb, il.total(), cudaMemcpyHostToDevice, m.stream));
  uint8_t* db = m.in_dev.get<uint8_t>();
  auto dev_i32 = [db](size_t at) { return reinterpret_cast<int32_t*>(db + at); };

  // Copy-on-write block copies, then the forward pass.
  for (size_t i = 0; i < in.copy_src.size(); ++i) {
    for (int64_t l = 0; l < c.num_layers; ++l) {
      for (DeviceMemory* cache : {&m.k_cache[l], &m.v_cache[l]}) {
        uint8_t* base = cache->get<uint8_t>();
        KV_CUDA_CHECK(cudaMemcpyAsync(base + in.copy_dst[i] * m.block_bytes, base + in.copy_src[i] * m.block_bytes,
                                      m.block_bytes, cudaMemcpyDeviceToDevice, m.stream));
      }
    }
  }
  if (t > 0) {
    m.forward(in, dev_i32(o_tokens), dev_i32(o_pos), dev_i32(o_slots), dev_i32(o_qsl), dev_i32(o_lens),
              dev_i32(o_tables), dev_i32(o_rows));
  }

  // Logits rows, sampling, one download.
  Layout ol;
  const size_t o_ids = ol.add(r * 4), o_lp = ol.add(sampling ? r * 4 : 0), o_top_ids = ol.add(r * top * 4);
  const size_t o_top_lp = ol.add(r * top * 4), o_logits = ol.add(in.return_logits ? r * vocab * 4 : 0);
  if (r > 0) {
    m.out_dev.ensure(ol.total());
    m.out_host.ensure(ol.total());
    uint8_t* ob = m.out_dev.get<uint8_t>();
    float* logits = m.logits.get<float>();  // written by the forward pass (r > 0 implies t > 0)
    if (in.return_logits) {
      KV_CUDA_CHECK(cudaMemcpyAsync(ob + o_logits, logits, r * vocab * 4, cudaMemcpyDeviceToDevice, m.stream));
    }
    auto* ids = reinterpret_cast<int32_t*>(ob + o_ids);
    if (sampling) {
      m.sample_ws.ensure(sample_cuda_workspace_bytes(r, vocab, max_saved));
      sample_cuda(ids, reinterpret_cast<float*>(ob + o_lp), top ? reinterpret_cast<int32_t*>(ob + o_top_ids) : nullptr,
                  top ? reinterpret_cast<float*>(ob + o_top_lp) : nullptr, top, logits, r, vocab,
                  reinterpret_cast<const SampleParams*>(db + o_params), dev_i32(o_hist), dev_i32(o_bias_ids),
                  reinterpret_cast<const float*>(db + o_bias_vals), max_saved, m.sample_ws.get(), m.stream);
    } else {
      argmax_rows_cuda(ids, logits, r, vocab, m.stream);
    }
    KV_CUDA_CHECK(cudaMemcpyAsync(m.out_host.get(), ob, ol.total(), cudaMemcpyDeviceToHost, m.stream));
  }
  KV_CUDA_CHECK(cudaStreamSynchronize(m.stream));

  const uint8_t* oh = r > 0 ? m.out_host.get() : nullptr;
  auto take = [oh](auto& vec, size_t at, size_t n) {
    using T = typename std::decay_t<decltype(vec)>::value_type;
    vec.resize(n);
    if (n) std::memcpy(vec.data(), oh + at, n * sizeof(T));
  };
  take(out.token_ids, o_ids, r);
  take(out.logprobs, o_lp, sampling ? r : 0);
  take(out.top_ids, o_top_ids, r * top);
  take(out.top_logprobs, o_top_lp, r * top);
  take(out.logits, o_logits, in.return_logits ? r * vocab : 0);
}

}  // namespace kv::cuda
