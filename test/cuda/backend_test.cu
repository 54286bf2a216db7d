// The CUDA backend (native/backends/cuda) against the CPU model (models/llama.cc, portable kernels) on
// small random models written to a temporary file: steps of prefill, mixed prefill + decode with
// sampling, and a copy-on-write fork, for several weight types, KV dtypes and architecture flags
// (qkv bias, q/k norm, neox rope, tied embeddings). Logits must agree to 2e-3 of their range: the
// kernels only sum in other orders, but f16/bf16 weights round the activations to 11/8 bits and
// quantized weights quantize them to 8, so a 1e-7 difference upstream can flip one rounding (1e-3
// relative for f16). Greedy tokens must be equal wherever the CPU's best two logits are further apart
// than that, and the tokens sampled on the device must be what sample_cpu draws from the device's own
// raw logits. A whole-model integration test: kernels.test.ts runs it under two thread orders and
// leaves the barrier-removal checks to the kernel families.
// kv-emu-integration
// kv-emu-sources: native/backends/cuda/cuda_llama.cu native/backends/cuda/cuda_ops.cu native/backends/cpu/cpu_ops.cc native/backends/cuda/cuda_probe.cu native/ops/add/add_cuda.cu native/ops/argmax/argmax_cuda.cu native/ops/embedding/embedding_cuda.cu native/ops/kv_cache_write/kv_cache_write_cuda.cu native/ops/matmul/matmul_cuda.cu native/ops/matmul/matmul_float_cuda.cu native/ops/matmul/matmul_quant_cuda.cu native/ops/paged_attention/paged_attention_cuda.cu native/ops/rms_norm/rms_norm_cuda.cu native/ops/rope/rope_cuda.cu native/ops/sample/sample_cuda.cu native/ops/silu_mul/silu_mul_cuda.cu native/models/llama.cc native/core/weights.cc native/core/mapped_file.cc native/core/kv_cache.cc native/core/rope_freqs.cc native/core/dtype.cc native/core/thread_pool.cc native/ops/add/add_cpu.cc native/ops/argmax/argmax_cpu.cc native/ops/embedding/embedding_cpu.cc native/ops/dequantize/dequantize_cpu.cc native/ops/kv_cache_write/kv_cache_write_cpu.cc native/ops/matmul/matmul_cpu.cc native/ops/matmul/matmul_float_cpu.cc native/ops/matmul/matmul_q8_cpu.cc native/ops/matmul/matmul_kquant_cpu.cc native/ops/matmul/matmul_packed_f_cpu.cc native/ops/matmul/matmul_packed_k_cpu.cc native/ops/matmul/matmul_packed_q_cpu.cc native/ops/paged_attention/paged_attention_cpu.cc native/ops/rms_norm/rms_norm_cpu.cc native/ops/rope/rope_cpu.cc native/ops/sample/sample_cpu.cc native/ops/sample/sample_vec_cpu.cc native/ops/silu_mul/silu_mul_cpu.cc
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "backends/cuda/cuda_llama.h"
#include "core/kv_cache.h"
#include "core/scratch.h"
#include "core/thread_pool.h"
#include "core/weights.h"
#include "harness.h"
#include "models/llama.h"
#include "ops/sample/sample.h"
#include "random_weights.h"

namespace {

using kv::DType;

struct ModelCase {
  const char* name;
  DType weights;
  DType kv;
  int64_t hidden, heads, kv_heads, head_dim, ffn, vocab;
  bool qkv_bias, qk_norm, neox, tied;
};

// A random model in a temporary file; the file is removed when the ModelWeights maps it.
std::unique_ptr<kv::LlamaModel> make_model(const ModelCase& mc, kvtest::Rng& rng) {
  kv::LlamaConfig c;
  c.hidden_size = mc.hidden;
  c.num_layers = 2;
  c.num_heads = mc.heads;
  c.num_kv_heads = mc.kv_heads;
  c.head_dim = mc.head_dim;
  c.intermediate_size = mc.ffn;
  c.vocab_size = mc.vocab;
  c.rope_dim = mc.head_dim;
  c.rope_layout = mc.neox ? 1 : 0;
  c.qkv_bias = mc.qkv_bias;
  c.qk_norm = mc.qk_norm;
  c.tied_embeddings = mc.tied;
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Tensor> tensors;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, DType t) {
    tensors.push_back({name, t, {rows, cols}, kvtest::random_weights(rng, t, rows, cols)});
  };
  auto vector = [&](const std::string& name, int64_t n, float lo, float hi) {
    std::vector<uint8_t> bytes(n * 4);
    for (int64_t i = 0; i < n; ++i) {
      const float v = rng.uniform(lo, hi);
      std::memcpy(&bytes[i * 4], &v, 4);
    }
    tensors.push_back({name, DType::F32, {n}, bytes});
  };
  const int64_t d = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  matrix("token_embd.weight", c.vocab_size, d, mc.weights);
  if (!mc.tied) matrix("output.weight", c.vocab_size, d, mc.weights);
  vector("output_norm.weight", d, 0.5f, 1.5f);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vector(p + "attn_norm.weight", d, 0.5f, 1.5f);
    matrix(p + "attn_q.weight", qd, d, mc.weights);
    matrix(p + "attn_k.weight", kvd, d, mc.weights);
    matrix(p + "attn_v.weight", kvd, d, mc.weights);
    matrix(p + "attn_output.weight", d, qd, mc.weights);
    if (mc.qkv_bias) {
      vector(p + "attn_q.bias", qd, -0.5f, 0.5f);
      vector(p + "attn_k.bias", kvd, -0.5f, 0.5f);
      vector(p + "attn_v.bias", kvd, -0.5f, 0.5f);
    }
    if (mc.qk_norm) {
      vector(p + "attn_q_norm.weight", c.head_dim, 0.5f, 1.5f);
      vector(p + "attn_k_norm.weight", c.head_dim, 0.5f, 1.5f);
    }
    vector(p + "ffn_norm.weight", d, 0.5f, 1.5f);
    matrix(p + "ffn_gate.weight", c.intermediate_size, d, mc.weights);
    matrix(p + "ffn_up.weight", c.intermediate_size, d, mc.weights);
    matrix(p + "ffn_down.weight", d, c.intermediate_size, mc.weights);
  }
  char path[] = "/tmp/kvserve-cuda-backend-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  std::vector<uint64_t> offsets;
  uint64_t at = 0;
  for (const Tensor& t : tensors) {
    offsets.push_back(at);
    if (write(fd, t.bytes.data(), t.bytes.size()) != static_cast<ssize_t>(t.bytes.size())) throw std::runtime_error("write failed");
    at += t.bytes.size();
  }
  close(fd);
  auto weights = std::make_unique<kv::ModelWeights>(std::vector<std::string>{path});
  unlink(path);  // the mapping stays valid
  for (size_t i = 0; i < tensors.size(); ++i)
    weights->add(tensors[i].name, tensors[i].dtype, tensors[i].shape, 0, offsets[i], tensors[i].bytes.size());
  return std::make_unique<kv::LlamaModel>(c, std::move(weights));
}

// A step of sequences (query length, context length, block ids), each context laid out in its blocks.
struct SeqStep {
  int32_t query_len, context_len;
  std::vector<int32_t> blocks;
};

kv::StepInput make_step(const std::vector<SeqStep>& seqs, int64_t block_size, int64_t vocab, kvtest::Rng& rng) {
  kv::StepInput in;
  in.max_blocks_per_seq = 0;
  for (const SeqStep& s : seqs) in.max_blocks_per_seq = std::max<int64_t>(in.max_blocks_per_seq, s.blocks.size());
  in.query_start_loc.push_back(0);
  for (const SeqStep& s : seqs) {
    for (int32_t j = 0; j < s.query_len; ++j) {
      const int32_t pos = s.context_len - s.query_len + j;
      in.token_ids.push_back(static_cast<int32_t>(rng.integer(0, vocab - 1)));
      in.positions.push_back(pos);
      in.slot_mapping.push_back(static_cast<int32_t>(s.blocks[pos / block_size] * block_size + pos % block_size));
    }
    in.query_start_loc.push_back(in.query_start_loc.back() + s.query_len);
    in.seq_lens.push_back(s.context_len);
    for (int64_t b = 0; b < in.max_blocks_per_seq; ++b)
      in.block_tables.push_back(b < static_cast<int64_t>(s.blocks.size()) ? s.blocks[b] : -1);
    if (s.query_len > 0) in.logits_indices.push_back(in.query_start_loc.back() - 1);
  }
  in.return_logits = true;
  return in;
}

struct Runner {
  std::unique_ptr<kv::LlamaModel> cpu;
  std::unique_ptr<kv::KvCache> cache;
  std::unique_ptr<kv::cuda::CudaLlamaModel> gpu;
  kv::ThreadPool pool{1};
};

// Runs one step on both; compares logits and (greedy) tokens or (sampled) the device's draw.
void run_step(Runner& r, const ModelCase& mc, kv::StepInput in, bool sample, const char* what) {
  kv::StepOutput cpu_out;
  for (size_t i = 0; i < in.copy_src.size(); ++i) r.cache->copy_block(in.copy_src[i], in.copy_dst[i]);
  r.cpu->forward(in, *r.cache, r.pool, kv::Isa::Portable, cpu_out);
  std::vector<kv::SampleParams> params(in.num_logits());
  for (size_t i = 0; i < params.size(); ++i) {
    kv::SampleParams& p = params[i];
    p = kv::SampleParams{};
    p.temperature = 0.8f;
    p.top_p = 0.9f;
    p.repetition_penalty = 1.1f;
    p.seed = 42 + i;
    p.counter = 3;
    p.num_logprobs = 2;
    p.history_start = 0;
    p.num_prompt_history = static_cast<int32_t>(std::min<size_t>(4, in.token_ids.size()));
  }
  kv::cuda::SamplingArrays arrays;
  arrays.params = params.data();
  arrays.history = in.token_ids.data();
  arrays.history_len = static_cast<int64_t>(in.token_ids.size());
  arrays.max_logprobs = 2;
  kv::cuda::CudaStepResult out;
  r.gpu->step(in, sample ? &arrays : nullptr, out);

  const int64_t rows = in.num_logits(), vocab = mc.vocab;
  KV_EXPECT(static_cast<int64_t>(out.logits.size()) == rows * vocab, "%s %s: %zu logits", mc.name, what, out.logits.size());
  if (static_cast<int64_t>(out.logits.size()) != rows * vocab) return;
  float range = 0;
  for (float v : cpu_out.logits) range = std::max(range, std::fabs(v));
  double worst = 0;
  for (size_t i = 0; i < out.logits.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(out.logits[i]) - cpu_out.logits[i]) / (range + 1e-30));
  constexpr double kTolerance = 2e-3;
  KV_EXPECT(worst < kTolerance, "%s %s: logits differ by %g of their range %g", mc.name, what, worst, range);
  if (!sample) {
    for (int64_t i = 0; i < rows; ++i) {
      const float* row = cpu_out.logits.data() + i * vocab;
      const int64_t want = std::max_element(row, row + vocab) - row;
      float second = -INFINITY;
      for (int64_t j = 0; j < vocab; ++j)
        if (j != want) second = std::max(second, row[j]);
      if (row[want] - second <= 2 * kTolerance * range) continue;  // a near tie: either token is right
      KV_EXPECT(out.token_ids[i] == want, "%s %s row %lld: greedy %d, the CPU model's %lld", mc.name, what, (long long)i,
                out.token_ids[i], (long long)want);
    }
    return;
  }
  std::vector<int32_t> ids(rows), top_ids(rows * 2);
  std::vector<float> logprobs(rows), top_logprobs(rows * 2);
  std::vector<float> logits = out.logits;
  kv::Scratch scratch;
  kv::cpu_portable::sample_cpu(ids.data(), logprobs.data(), top_ids.data(), top_logprobs.data(), 2, logits.data(), rows,
                               vocab, params.data(), in.token_ids.data(), nullptr, nullptr, r.pool, scratch);
  for (int64_t i = 0; i < rows; ++i) {
    KV_EXPECT(out.token_ids[i] == ids[i] && std::fabs(out.logprobs[i] - logprobs[i]) <= 1e-6f,
              "%s %s row %lld: drew %d (logprob %g), sample_cpu on the same logits %d (%g)", mc.name, what, (long long)i,
              out.token_ids[i], out.logprobs[i], ids[i], logprobs[i]);
    KV_EXPECT(out.top_ids[2 * i] == top_ids[2 * i] && out.top_ids[2 * i + 1] == top_ids[2 * i + 1], "%s %s row %lld: top ids",
              mc.name, what, (long long)i);
  }
}

const ModelCase kCases[] = {
    {"f32/f32", DType::F32, DType::F32, 64, 4, 2, 16, 96, 100, false, false, false, false},
    {"f16/f16 qkv-bias neox", DType::F16, DType::F16, 64, 4, 4, 16, 96, 100, true, false, true, true},
    {"q8_0/bf16 qk-norm", DType::Q8_0, DType::BF16, 64, 4, 1, 16, 128, 90, false, true, false, false},
    {"q4_k/f16", DType::Q4_K, DType::F16, 256, 4, 2, 64, 512, 70, false, false, true, false},
    {"q6_k/f16 tied", DType::Q6_K, DType::F16, 256, 2, 2, 128, 256, 64, false, false, false, true},
};

KV_TEST(cuda_backend_matches_cpu_model) {
  kvtest::Rng rng(50);
  const int64_t block_size = 4, num_blocks = 16;
  for (const ModelCase& mc : kCases) {
    Runner r;
    r.cpu = make_model(mc, rng);
    r.cache = std::make_unique<kv::KvCache>(2, num_blocks, block_size, mc.kv_heads, mc.head_dim, mc.kv);
    r.gpu = std::make_unique<kv::cuda::CudaLlamaModel>(*r.cpu, kv::cuda::CudaKvConfig{num_blocks, block_size, mc.kv});
    // Prefill two sequences (blocks shuffled), then decode both while a third prefills, sampled.
    run_step(r, mc, make_step({{5, 5, {3, 7}}, {9, 9, {1, 0, 12}}}, block_size, mc.vocab, rng), false, "prefill");
    run_step(r, mc, make_step({{1, 6, {3, 7}}, {1, 10, {1, 0, 12}}, {6, 6, {4, 5}}}, block_size, mc.vocab, rng), true,
             "mixed sampled");
    // Fork sequence 1 after 10 tokens: its partly filled block 12 is copied to 9 before both decode.
    kv::StepInput fork = make_step({{1, 11, {1, 0, 12}}, {1, 11, {1, 0, 9}}}, block_size, mc.vocab, rng);
    fork.copy_src = {12};
    fork.copy_dst = {9};
    run_step(r, mc, fork, false, "fork");
  }
}

KV_TEST(cuda_probe_reports_the_device) {
  const kv::cuda::CudaProbe p = kv::cuda::probe_cuda();
  KV_EXPECT(p.ok && p.device_count >= 1 && !p.devices.empty(), "probe: ok=%d count=%d error=%s", p.ok, p.device_count,
            p.error.c_str());
}

}  // namespace

KV_TEST_MAIN()
