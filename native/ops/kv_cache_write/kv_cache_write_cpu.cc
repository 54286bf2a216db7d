// CPU kernel for kv_cache_write (see kv_cache_write.h for the cache layout and invariants).
// Each (token, kv head) row of head_dim floats lands in one contiguous row of a (block, head) tile, so
// the kernel is a strided copy with an f32 -> f16/bf16 conversion; it is memory-bound and runs on the
// calling thread (a step writes only its new tokens, a few KB to a few MB).
// Conversions round to nearest even: F16 with the F16C instruction (rounding given explicitly, not
// taken from MXCSR), BF16 with the integer trick x + 0x7fff + lsb, NaNs kept quiet. The scalar tails use
// the same rules (core/dtype.h), so all variants store the same bits for every non-NaN input.
#include <cstring>

#include "ops/kv_cache_write/kv_cache_write.h"
#include "core/isa_begin.h"

namespace kv::KV_ISA_NS {

namespace {

void store_row_f16(uint16_t* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
  }
  if (i < n) {  // masked tail: loads and stores never touch memory past the row
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(dst + i, m, h);
    return;
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

#if KV_ISA == KV_ISA_AVX512
// 16 floats -> 16 bf16 (in the low 16 bits of each 32-bit lane), round to nearest even, quiet NaNs.
inline __m512i bf16_round(__m512 v) {
  const __m512i x = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __m512i qnan = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), r, qnan);
}
#elif KV_ISA == KV_ISA_AVX2
inline __m256i bf16_round(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i qnan = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  return _mm256_blendv_epi8(r, qnan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}
#endif

void store_row_bf16(uint16_t* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if KV_ISA == KV_ISA_AVX512
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(bf16_round(_mm512_loadu_ps(src + i))));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtepi32_epi16(bf16_round(_mm512_maskz_loadu_ps(m, src + i))));
    return;
  }
#elif KV_ISA == KV_ISA_AVX2
  for (; i + 8 <= n; i += 8) {
    // packus keeps the values (all < 0x10000); the permute undoes its per-128-bit-lane interleave.
    const __m256i r = bf16_round(_mm256_loadu_ps(src + i));
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xd8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_castsi256_si128(p));
  }
#endif
  for (; i < n; ++i) dst[i] = fp32_to_bf16(src[i]);
}

void store_row(void* cache, int64_t elem_index, DType dtype, const float* src, int64_t n) {
  switch (dtype) {
    case DType::F16: store_row_f16(static_cast<uint16_t*>(cache) + elem_index, src, n); break;
    case DType::BF16: store_row_bf16(static_cast<uint16_t*>(cache) + elem_index, src, n); break;
    default: std::memcpy(static_cast<float*>(cache) + elem_index, src, static_cast<size_t>(n) * sizeof(float)); break;
  }
}

}  // namespace

void kv_cache_write_cpu(void* k_cache, void* v_cache, DType kv_dtype, const float* k, const float* v,
                        const int32_t* slot_mapping, int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim,
                        int64_t block_size) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;  // padding token
    const int64_t block = slot / block_size, off = slot % block_size;
    for (int64_t h = 0; h < n_kv_heads; ++h) {
      const int64_t dst = ((block * n_kv_heads + h) * block_size + off) * head_dim;  // element index
      const int64_t src = (t * n_kv_heads + h) * head_dim;
      store_row(k_cache, dst, kv_dtype, k + src, head_dim);
      store_row(v_cache, dst, kv_dtype, v + src, head_dim);
    }
  }
}

}  // namespace kv::KV_ISA_NS

#include "core/isa_end.h"
