// Forced include (g++ -include) for the non-kernel native sources of the emulated test programs: the
// test programs link only the portable CPU kernel variant, so KV_CPU_DISPATCH calls it whatever ISA is
// asked for. core/isa.h is included first; its #pragma once keeps this definition.
#pragma once
#include "core/isa.h"

#undef KV_CPU_DISPATCH
#define KV_CPU_DISPATCH(isa, fn, ...) \
  do {                                \
    (void)(isa);                      \
    ::kv::cpu_portable::fn(__VA_ARGS__); \
  } while (0)

#undef KV_CPU_SELECT
#define KV_CPU_SELECT(isa, fn) ((void)(isa), &::kv::cpu_portable::fn)
