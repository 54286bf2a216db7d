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
  try {
    in.max_blocks_per_seq = step_max_blocks_per_seq(mb.As<Napi::Number>().DoubleValue());
    validate_step_input(in, lim);
  } catch (const InputError& e) {
    throw Napi::RangeError::New(env, std::string("step.") + e.what());
  }
  return in;
}

}  // namespace kv::napi
