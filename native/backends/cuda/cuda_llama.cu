// CudaLlamaModel (see cuda_llama.h): weights and KV cache in device memory, one stream, one upload and one
// download per step, and models/llama.cc's op list on the CUDA kernels:
//   embedding -> per layer: rms_norm, q/k/v matmul (+bias), [q/k rms_norm], rope, kv_cache_write,
//   paged_attention, o matmul, residual add, rms_norm, gate/up matmul, silu_mul, down matmul, residual add
//   -> the logits rows gathered, final rms_norm, output matmul -> sample (or argmax).
#include "backends/cuda/cuda_llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <map>
#include <stdexcept>

#include "backends/cuda/device_memory.h"
#include "core/cuda/device_util.cuh"
#include "ops/add/add_cuda.h"
#include "ops/argmax/argmax_cuda.h"
#include "ops/embedding/embedding_cuda.h"
#include "ops/kv_cache_write/kv_cache_write_cuda.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/paged_attention/paged_attention_cuda.h"
#include "ops/rms_norm/rms_norm_cuda.h"
#include "ops/rope/rope_cuda.h"
#include "ops/sample/sample_cuda.h"
#include "ops/silu_mul/silu_mul_cuda.h"

namespace kv::cuda {

namespace {

// out[i, :] = x[rows[i], :] for the logits rows. One block per row.
__global__ void gather_rows_kernel(float* out, const float* x, const int32_t* rows, int64_t d) {
  const float* src = x + static_cast<int64_t>(rows[blockIdx.x]) * d;
  float* dst = out + static_cast<int64_t>(blockIdx.x) * d;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
}

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

struct DevLayer {
  const float* attn_norm;
  WeightView wq, wk, wv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr;
  const float* ffn_norm;
  WeightView w_gate, w_up, w_down;
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
  std::vector<DevLayer> layers;
  const void* token_embd = nullptr;
  DType token_embd_dtype = DType::F32;
  WeightView output;
  const float* output_norm = nullptr;
  const float* inv_freq = nullptr;
  // KV cache, per layer.
  CudaKvConfig kv;
  int64_t block_bytes = 0;
  std::vector<DeviceMemory> k_cache, v_cache;
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

  void matmul(float* out, const float* in, const WeightView& w, const float* bias, int64_t m) {
    matmul_cuda(out, in, w, bias, m, matmul_ws.get(), stream);
  }

  void forward(int64_t t, const int32_t* d_tokens, const int32_t* d_positions, const int32_t* d_slots,
               const int32_t* d_qsl, const int32_t* d_seq_lens, const int32_t* d_tables, const StepInput& in);
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
  for (const LlamaModel::Layer& l : model.layers()) {
    DevLayer dl;
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
    m.layers.push_back(dl);
  }
  m.token_embd_dtype = model.token_embd_dtype();
  m.token_embd = m.upload(model.token_embd(), static_cast<size_t>(c.vocab_size * dtype_row_bytes(m.token_embd_dtype, d)));
  m.output = m.upload_matrix(model.output());
  m.output_norm = m.upload_vector(model.output_norm(), d);
  m.inv_freq = m.upload_vector(model.inv_freq().data(), static_cast<int64_t>(model.inv_freq().size()));

  m.block_bytes = c.num_kv_heads * kv.block_size * hd * dtype_block_bytes(kv.dtype);
  const size_t layer_bytes = static_cast<size_t>(kv.num_blocks * m.block_bytes);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    m.k_cache.emplace_back(layer_bytes);
    m.v_cache.emplace_back(layer_bytes);
    // Zeroed so that a bug reading an unwritten slot gives zeros, as the CPU cache does.
    KV_CUDA_CHECK(cudaMemsetAsync(m.k_cache.back().get(), 0, layer_bytes, m.stream));
    KV_CUDA_CHECK(cudaMemsetAsync(m.v_cache.back().get(), 0, layer_bytes, m.stream));
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

void CudaLlamaModel::Impl::forward(int64_t t, const int32_t* d_tokens, const int32_t* d_positions, const int32_t* d_slots,
                                   const int32_t* d_qsl, const int32_t* d_seq_lens, const int32_t* d_tables,
                                   const StepInput& in) {
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
  size_t ws = 0;
  for (const DevLayer& l : layers) {
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
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  float *xp = x.get<float>(), *hp = h.get<float>(), *qp = q.get<float>(), *kp = k.get<float>(), *vp = v.get<float>();
  float *ap = attn.get<float>(), *gp = gate.get<float>(), *upp = up.get<float>();
  embedding_cuda(xp, token_embd, token_embd_dtype, d, d_tokens, t, stream);
  for (size_t li = 0; li < layers.size(); ++li) {
    const DevLayer& l = layers[li];
    rms_norm_cuda(hp, xp, l.attn_norm, t, d, c.rms_norm_eps, stream);
    matmul(qp, hp, l.wq, l.bq, t);
    matmul(kp, hp, l.wk, l.bk, t);
    matmul(vp, hp, l.wv, l.bv, t);
    if (c.qk_norm) {
      rms_norm_cuda(qp, qp, l.q_norm, t * c.num_heads, hd, c.rms_norm_eps, stream);
      rms_norm_cuda(kp, kp, l.k_norm, t * c.num_kv_heads, hd, c.rms_norm_eps, stream);
    }
    rope_cuda(qp, t, c.num_heads, hd, c.rope_dim, d_positions, inv_freq, c.rope_position_scale, c.rope_layout, stream);
    rope_cuda(kp, t, c.num_kv_heads, hd, c.rope_dim, d_positions, inv_freq, c.rope_position_scale, c.rope_layout, stream);
    kv_cache_write_cuda(k_cache[li].get(), v_cache[li].get(), kv.dtype, kp, vp, d_slots, t, c.num_kv_heads, hd,
                        kv.block_size, stream);
    paged_attention_cuda(ap, qp, k_cache[li].get(), v_cache[li].get(), kv.dtype, d_qsl, d_seq_lens, d_tables,
                         in.max_blocks_per_seq, in.num_seqs(), c.num_heads, c.num_kv_heads, hd, kv.block_size, scale,
                         plan, stream);
    matmul(hp, ap, l.wo, l.bo, t);
    add_cuda(xp, xp, hp, t * d, stream);
    rms_norm_cuda(hp, xp, l.ffn_norm, t, d, c.rms_norm_eps, stream);
    matmul(gp, hp, l.w_gate, nullptr, t);
    matmul(upp, hp, l.w_up, nullptr, t);
    silu_mul_cuda(gp, gp, upp, t * f, stream);
    matmul(hp, gp, l.w_down, nullptr, t);
    add_cuda(xp, xp, hp, t * d, stream);
  }
}

void CudaLlamaModel::step(const StepInput& in, const SamplingArrays* sampling, CudaStepResult& out) {
  Impl& m = *impl_;
  const LlamaConfig& c = m.c;
  const int64_t t = in.num_tokens(), s = in.num_seqs(), r = in.num_logits(), vocab = c.vocab_size, d = c.hidden_size;
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
    m.forward(t, dev_i32(o_tokens), dev_i32(o_pos), dev_i32(o_slots), dev_i32(o_qsl), dev_i32(o_lens),
              dev_i32(o_tables), in);
  }

  // Logits rows, sampling, one download.
  Layout ol;
  const size_t o_ids = ol.add(r * 4), o_lp = ol.add(sampling ? r * 4 : 0), o_top_ids = ol.add(r * top * 4);
  const size_t o_top_lp = ol.add(r * top * 4), o_logits = ol.add(in.return_logits ? r * vocab * 4 : 0);
  if (r > 0) {
    m.out_dev.ensure(ol.total());
    m.out_host.ensure(ol.total());
    uint8_t* ob = m.out_dev.get<uint8_t>();
    m.rows.ensure(r * d * 4);
    m.logits.ensure(r * vocab * 4);
    m.matmul_ws.ensure(matmul_cuda_workspace_bytes(m.output.dtype, r, d));
    float* rows = m.rows.get<float>();
    float* logits = m.logits.get<float>();
    KV_LAUNCH(gather_rows_kernel, static_cast<unsigned>(r), 256, 0, m.stream)(rows, m.x.get<float>(), dev_i32(o_rows), d);
    KV_CUDA_CHECK_LAUNCH();
    rms_norm_cuda(rows, rows, m.output_norm, r, d, c.rms_norm_eps, m.stream);
    m.matmul(logits, rows, m.output, nullptr, r);
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
