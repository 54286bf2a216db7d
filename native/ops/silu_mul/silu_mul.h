// silu_mul: the SwiGLU gate of the LLaMA MLP (ggml swiglu):
//   out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]
//   out  [n] f32 (may alias gate or up)
//   gate [n] f32
//   up   [n] f32
// Portable variant: expf, exactly ggml's scalar ggml_silu_f32. SIMD variants: a vector exp within a
// few ulp of expf (tested against a double reference), finite for every finite input: large
// negative gates give -0, large positive ones give gate * up.
#pragma once
#include <cstdint>

#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(void silu_mul_cpu(float* out, const float* gate, const float* up, int64_t n))
