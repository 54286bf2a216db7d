// Reads a JS StepInput object ({ tokenIds, positions, slotMapping, queryStartLoc, seqLens, blockTables,
// maxBlocksPerSeq, logitsIndices, copySrc?, copyDst?, returnLogits? }) and checks every invariant the
// kernels rely on (core/step_validation.h), so a malformed step is a JS error, never an out-of-bounds
// access.
#pragma once
#include <napi.h>

#include "core/step_input.h"
#include "core/step_validation.h"

namespace kv::napi {

using kv::StepLimits;

StepInput parse_step_input(const Napi::Object& o, const StepLimits& limits);

}  // namespace kv::napi
