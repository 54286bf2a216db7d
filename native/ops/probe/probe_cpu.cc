// CPU machine probes (see probe.h). Each loop keeps enough independent chains in flight to cover the
// instruction latency on both FMA pipes (16 chains: latency 4 x 2 pipes, with margin). The chains are
// plain locals (no asm operands on them), so the compiler keeps them in registers.
#include <cstring>

#include "ops/probe/probe.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {
constexpr int kChains = 16;
constexpr int kChainsAvx2 = 12;  // 12 chains + 2 operands fit the 16 ymm registers
}  // namespace

uint64_t probe_read_cpu(const uint8_t* buf, int64_t bytes) {
#if KV_ISA == KV_ISA_AVX512
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i + 256 <= bytes; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(buf + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(buf + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(buf + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(buf + i + 192));
  }
  const __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a);
  uint64_t r = 0;
  for (uint64_t v : lanes) r ^= v;
  return r;
#elif KV_ISA == KV_ISA_AVX2
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i + 128 <= bytes; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(buf + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(buf + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(buf + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(buf + i + 96)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
#else
  uint64_t a[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i + 32 <= bytes; i += 32) {
    for (int j = 0; j < 4; ++j) {
      uint64_t v;
      std::memcpy(&v, buf + i + 8 * j, 8);
      a[j] ^= v;
    }
  }
  return a[0] ^ a[1] ^ a[2] ^ a[3];
#endif
}

double probe_fma_f32_cpu(int64_t iterations) {
#if KV_ISA == KV_ISA_AVX512
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  double r = 0;
  for (float v : lanes) r += v;
  return r;
#elif KV_ISA == KV_ISA_AVX2
  __m256 acc[kChainsAvx2];
  for (int c = 0; c < kChainsAvx2; ++c) acc[c] = _mm256_set1_ps(0.001f * c);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChainsAvx2; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 s = acc[0];
  for (int c = 1; c < kChainsAvx2; ++c) s = _mm256_add_ps(s, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  double r = 0;
  for (float v : lanes) r += v;
  return r;
#else
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = 0.001f * c;
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
  double r = 0;
  for (float v : acc) r += v;
  return r;
#endif
}

int64_t probe_fma_f32_flops_per_iter() {
#if KV_ISA == KV_ISA_AVX512
  return 2 * 16 * kChains;
#elif KV_ISA == KV_ISA_AVX2
  return 2 * 8 * kChainsAvx2;
#else
  return 2 * kChains;
#endif
}

int64_t probe_dot_i8_cpu(int64_t iterations) {
#if KV_ISA == KV_ISA_AVX512
  __m512i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  }
  __m512i s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_epi32(s, acc[c]);
  alignas(64) int32_t lanes[16];  // (GCC 12's _mm512_reduce_add_epi32 trips -Wuninitialized)
  _mm512_store_si512(lanes, s);
  int64_t r = 0;
  for (int32_t v : lanes) r += v;
  return r;
#elif KV_ISA == KV_ISA_AVX2
  __m256i acc[kChains / 2];
  for (int c = 0; c < kChains / 2; ++c) acc[c] = _mm256_set1_epi32(c);
  __m256i a = _mm256_set1_epi8(3);
  const __m256i b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 8
    for (int c = 0; c < kChains / 2; ++c)
      acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
    __asm__ volatile("" : "+x"(a));  // a may change: the products are not hoisted out of the loop
  }
  __m256i s = acc[0];
  for (int c = 1; c < kChains / 2; ++c) s = _mm256_add_epi32(s, acc[c]);
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  int64_t r = 0;
  for (int32_t v : lanes) r += v;
  return r;
#else
  int32_t acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = c;
  int32_t a = 3, b = -2;
  for (int64_t i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] += a * b + a * (b + 1) + (a + 1) * b + (a + 1) * (b + 1);
    __asm__ volatile("" : "+r"(a), "+r"(b));  // a, b may change: no closed form
  }
  int64_t r = 0;
  for (int32_t v : acc) r += v;
  return r;
#endif
}

int64_t probe_dot_i8_ops_per_iter() {
#if KV_ISA == KV_ISA_AVX512
  return 2 * 64 * kChains;
#elif KV_ISA == KV_ISA_AVX2
  return 2 * 32 * (kChains / 2);
#else
  return 2 * 4 * kChains;
#endif
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
