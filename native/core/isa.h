// Instruction-set variants of the CPU kernels. Every file native/ops/*/*_cpu.cc is compiled once per
// variant (binding.gyp targets kernels_portable / kernels_avx2 / kernels_avx512) with KV_ISA set, and
// defines its functions in namespace kv::cpu_portable, kv::cpu_avx2 or kv::cpu_avx512. The variant is
// chosen at run time from the CPU's features (or KVSERVE_ISA), so one binary runs on any x86-64 CPU.
#pragma once
#include <cstdint>

namespace kv {

enum class Isa : int32_t { Portable = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;     // with FMA and F16C
  bool avx512 = false;   // F, BW, VL, DQ and VNNI (with AVX2 set): the avx512 kernel variant
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
};

const CpuFeatures& cpu_features();

/** Whether this binary holds the variant and the CPU can run it. */
bool isa_supported(Isa isa);

/** Best variant for this CPU, lowered by KVSERVE_ISA=portable|avx2|avx512 when set. */
Isa best_isa();

const char* isa_name(Isa isa);

}  // namespace kv

#define KV_ISA_PORTABLE 0
#define KV_ISA_AVX2 1
#define KV_ISA_AVX512 2

// Declares `decl` (a function declaration) in every variant namespace. Op headers use it once per kernel.
#define KV_DECLARE_CPU_KERNEL(decl)   \
  namespace kv {                      \
  namespace cpu_portable { decl; }    \
  namespace cpu_avx2 { decl; }        \
  namespace cpu_avx512 { decl; }      \
  }

// Calls kernel `fn` of the variant `isa`: KV_CPU_DISPATCH(isa, rms_norm_cpu, out, x, ...).
#define KV_CPU_DISPATCH(isa, fn, ...)                                           \
  do {                                                                         \
    switch (isa) {                                                             \
      case ::kv::Isa::Avx512: ::kv::cpu_avx512::fn(__VA_ARGS__); break;        \
      case ::kv::Isa::Avx2: ::kv::cpu_avx2::fn(__VA_ARGS__); break;            \
      default: ::kv::cpu_portable::fn(__VA_ARGS__); break;                     \
    }                                                                          \
  } while (0)

// The function pointer of kernel `fn` in the variant `isa`, for kernels that return a value:
// KV_CPU_SELECT(isa, probe_read_cpu)(buf, bytes).
#define KV_CPU_SELECT(isa, fn)                                         \
  ((isa) == ::kv::Isa::Avx512 ? &::kv::cpu_avx512::fn                  \
   : (isa) == ::kv::Isa::Avx2 ? &::kv::cpu_avx2::fn : &::kv::cpu_portable::fn)
