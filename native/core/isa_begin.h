// Opens the instruction-set region of a kernel file. Include it AFTER every other header, and close
// with isa_end.h. Code between them is compiled for the variant selected by KV_ISA and must live in
// namespace kv::KV_ISA_NS, so the variants never share a symbol (no ODR clash between ISAs).
// Usage:  #include "core/isa_begin.h"  namespace kv::KV_ISA_NS { ... }  #include "core/isa_end.h"
// Variants: avx2 = AVX2+FMA+F16C; avx512 = AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Zen 4 and later).
#include "isa.h"

#ifndef KV_ISA
#error "KV_ISA must be defined (0 portable, 1 avx2, 2 avx512) for kernel files"
#endif

#if KV_ISA == KV_ISA_AVX512
#define KV_ISA_NS cpu_avx512
#elif KV_ISA == KV_ISA_AVX2
#define KV_ISA_NS cpu_avx2
#else
#define KV_ISA_NS cpu_portable
#endif

#if !(defined(__x86_64__) || defined(_M_X64))
// Not x86: every variant namespace holds the portable code.
#undef KV_ISA
#define KV_ISA KV_ISA_PORTABLE
#else
#include <immintrin.h>
#endif

#if KV_ISA == KV_ISA_AVX512
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#endif
#elif KV_ISA == KV_ISA_AVX2
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
#endif
