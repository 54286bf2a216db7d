// Closes the region opened by isa_begin.h.
#if KV_ISA == KV_ISA_AVX512 || KV_ISA == KV_ISA_AVX2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
#undef KV_ISA_NS
