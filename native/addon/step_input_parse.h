// Reads a JS StepInput object ({ tokenIds, positions, slotMapping, queryStartLoc, seqLens, blockTables,
// maxBlocksPerSeq, logitsIndices, copySrc?, copyDst?, returnLogits? }) and checks every invariant the
// kernels rely on, so a malformed step is a JS error, never an out-of-bounds access.
#pragma once
#include <napi.h>

#include "core/step_input.h"

namespace kv::napi {

struct StepLimits {
  int64_t vocab_size;
  int64_t num_blocks;
  int64_t block_size;
};

StepInput parse_step_input(const Napi::Object& o, const StepLimits& limits);

}  // namespace kv::napi
