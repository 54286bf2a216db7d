#include "step_input_parse.h"

#include <string>

#include "napi_util.h"

namespace kv::napi {

namespace {

std::vector<int32_t> int32_field(const Napi::Object& o, const char* key, bool optional = false) {
  Napi::Value v = o.Get(key);
  if (optional && (v.IsUndefined() || v.IsNull())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw TypeError(o.Env(), std::string("step.") + key + ": expected an Int32Array");
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

[[noreturn]] void fail(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, "step." + message); }

}  // namespace

StepInput parse_step_input(const Napi::Object& o, const StepLimits& lim) {
  Napi::Env env = o.Env();
  StepInput in;
  in.token_ids = int32_field(o, "tokenIds");
  in.positions = int32_field(o, "positions");
  in.slot_mapping = int32_field(o, "slotMapping");
  in.query_start_loc = int32_field(o, "queryStartLoc");
  in.seq_lens = int32_field(o, "seqLens");
  in.block_tables = int32_field(o, "blockTables");
  in.logits_indices = int32_field(o, "logitsIndices");
  in.copy_src = int32_field(o, "copySrc", true);
  in.copy_dst = int32_field(o, "copyDst", true);
  Napi::Value rl = o.Get("returnLogits");
  in.return_logits = rl.IsBoolean() && rl.As<Napi::Boolean>().Value();
  Napi::Value pf = o.Get("profile");
  in.profile = pf.IsBoolean() && pf.As<Napi::Boolean>().Value();
  Napi::Value mb = o.Get("maxBlocksPerSeq");
  if (!mb.IsNumber()) throw TypeError(env, "step.maxBlocksPerSeq: expected a number");
  in.max_blocks_per_seq = static_cast<int64_t>(mb.As<Napi::Number>().DoubleValue());

  const int64_t t = in.num_tokens(), s = in.num_seqs();
  const int64_t capacity = lim.num_blocks * lim.block_size;
  if (t == 0) fail(env, "tokenIds: expected at least one token");
  if (static_cast<int64_t>(in.positions.size()) != t) fail(env, "positions: length must equal tokenIds.length");
  if (static_cast<int64_t>(in.slot_mapping.size()) != t) fail(env, "slotMapping: length must equal tokenIds.length");
  if (static_cast<int64_t>(in.query_start_loc.size()) != s + 1) fail(env, "queryStartLoc: length must be seqLens.length + 1");
  if (in.max_blocks_per_seq < 1) fail(env, "maxBlocksPerSeq: expected >= 1");
  if (static_cast<int64_t>(in.block_tables.size()) != s * in.max_blocks_per_seq) {
    fail(env, "blockTables: length must be seqLens.length * maxBlocksPerSeq");
  }
  if (in.copy_src.size() != in.copy_dst.size()) fail(env, "copySrc/copyDst: lengths differ");
  for (int64_t i = 0; i < t; ++i) {
    if (in.token_ids[i] < 0 || in.token_ids[i] >= lim.vocab_size) {
      fail(env, "tokenIds[" + std::to_string(i) + "]: expected a token id in [0, " + std::to_string(lim.vocab_size) +
                    "), got " + std::to_string(in.token_ids[i]));
    }
    if (in.slot_mapping[i] < -1 || in.slot_mapping[i] >= capacity) {
      fail(env, "slotMapping[" + std::to_string(i) + "]: out of range: " + std::to_string(in.slot_mapping[i]));
    }
    if (in.positions[i] < 0) fail(env, "positions[" + std::to_string(i) + "]: negative");
  }
  if (in.query_start_loc[0] != 0 || in.query_start_loc[s] != t) fail(env, "queryStartLoc: must start at 0 and end at the token count");
  for (int64_t q = 0; q < s; ++q) {
    const int64_t len = in.query_start_loc[q + 1] - in.query_start_loc[q];
    const int64_t ctx = in.seq_lens[q];
    if (len < 1) fail(env, "queryStartLoc: sequence " + std::to_string(q) + " has no tokens");
    if (ctx < len) fail(env, "seqLens[" + std::to_string(q) + "]: shorter than its query tokens");
    if ((ctx + lim.block_size - 1) / lim.block_size > in.max_blocks_per_seq) {
      fail(env, "seqLens[" + std::to_string(q) + "]: needs more blocks than maxBlocksPerSeq");
    }
    const int64_t used_blocks = (ctx + lim.block_size - 1) / lim.block_size;
    for (int64_t b = 0; b < used_blocks; ++b) {
      const int32_t id = in.block_tables[q * in.max_blocks_per_seq + b];
      if (id < 0 || id >= lim.num_blocks) {
        fail(env, "blockTables: sequence " + std::to_string(q) + " block " + std::to_string(b) + " id " +
                      std::to_string(id) + " out of range");
      }
    }
    // A token's position must lie inside its sequence's context: the kernel reads positions [0, pos].
    for (int64_t i = in.query_start_loc[q]; i < in.query_start_loc[q + 1]; ++i) {
      const int64_t expected = ctx - len + (i - in.query_start_loc[q]);
      if (in.positions[i] != expected) {
        fail(env, "positions[" + std::to_string(i) + "]: expected " + std::to_string(expected) + " (context " +
                      std::to_string(ctx) + ", query " + std::to_string(len) + "), got " + std::to_string(in.positions[i]));
      }
    }
  }
  for (size_t i = 0; i < in.logits_indices.size(); ++i) {
    if (in.logits_indices[i] < 0 || in.logits_indices[i] >= t) fail(env, "logitsIndices[" + std::to_string(i) + "]: out of range");
  }
  for (size_t i = 0; i < in.copy_src.size(); ++i) {
    if (in.copy_src[i] < 0 || in.copy_src[i] >= lim.num_blocks || in.copy_dst[i] < 0 || in.copy_dst[i] >= lim.num_blocks) {
      fail(env, "copySrc/copyDst[" + std::to_string(i) + "]: block id out of range");
    }
  }
  return in;
}

}  // namespace kv::napi
