// cuda_emu: device math, bit and integer intrinsics, and atomics. Fast-math intrinsics (__expf ...)
// are the exact libm functions here; the IEEE-rounded ones (__fmaf_rn, __fdiv_rn ...) are exact.
// Atomics are real (__atomic builtins, CAS loops for floats): blocks run in parallel. Included by
// cuda_emu.h.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;

// ---- float ----
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline void __sincosf(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __tanf(float x) { return std::tan(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmaf_rn(float x, float y, float z) { return std::fma(x, y, z); }
inline double __fma_rn(double x, double y, double z) { return std::fma(x, y, z); }
inline double __dadd_rn(double x, double y) { return x + y; }
inline double __dmul_rn(double x, double y) { return x * y; }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline float exp10f(float x) { return std::pow(10.0f, x); }

// ---- bit casts and conversions ----
inline int __float_as_int(float x) { int r; std::memcpy(&r, &x, 4); return r; }
inline unsigned __float_as_uint(float x) { unsigned r; std::memcpy(&r, &x, 4); return r; }
inline float __int_as_float(int x) { float r; std::memcpy(&r, &x, 4); return r; }
inline float __uint_as_float(unsigned x) { float r; std::memcpy(&r, &x, 4); return r; }
inline long long __double_as_longlong(double x) { long long r; std::memcpy(&r, &x, 8); return r; }
inline double __longlong_as_double(long long x) { double r; std::memcpy(&r, &x, 8); return r; }

namespace kvemu {
// Float -> int the way the PTX cvt.*.s32.f32 instructions do: NaN -> 0, saturated to the int range.
inline int cvt_f2i(float r) {
  if (r != r) return 0;
  if (r >= 2147483648.0f) return INT_MAX;
  if (r < -2147483648.0f) return INT_MIN;
  return static_cast<int>(r);
}
inline unsigned cvt_f2u(float r) {
  if (r != r || r <= 0.0f) return 0;
  if (r >= 4294967296.0f) return UINT_MAX;
  return static_cast<unsigned>(r);
}
}  // namespace kvemu
inline int __float2int_rn(float x) { return kvemu::cvt_f2i(std::nearbyint(x)); }  // default rounding: to even
inline int __float2int_rz(float x) { return kvemu::cvt_f2i(std::trunc(x)); }
inline int __float2int_rd(float x) { return kvemu::cvt_f2i(std::floor(x)); }
inline int __float2int_ru(float x) { return kvemu::cvt_f2i(std::ceil(x)); }
inline unsigned __float2uint_rn(float x) { return kvemu::cvt_f2u(std::nearbyint(x)); }
inline unsigned __float2uint_rz(float x) { return kvemu::cvt_f2u(std::trunc(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned x) { return static_cast<float>(x); }
inline float __ll2float_rn(long long x) { return static_cast<float>(x); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }

// ---- integer ----
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  const uint64_t v = (static_cast<uint64_t>(y) << 32) | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<unsigned>((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}
/** Four signed 8-bit products summed into c (sm_61+ dp4a). */
inline int __dp4a(int a, int b, int c) {
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int>(static_cast<int8_t>(a >> (8 * i))) * static_cast<int>(static_cast<int8_t>(b >> (8 * i)));
  }
  return c;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  for (int i = 0; i < 4; ++i) c += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
  return c;
}
inline int __mul24(int a, int b) { return (a << 8 >> 8) * (b << 8 >> 8); }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}

// CUDA's global min/max overloads (device code has them without std::).
#define KVEMU_MINMAX(T)                           \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
KVEMU_MINMAX(int)
KVEMU_MINMAX(unsigned int)
KVEMU_MINMAX(long)
KVEMU_MINMAX(unsigned long)
KVEMU_MINMAX(long long)
KVEMU_MINMAX(unsigned long long)
#undef KVEMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// ---- memory hints: plain loads here ----
template <typename T>
inline T __ldg(const T* p) { return *p; }
template <typename T>
inline T __ldcs(const T* p) { return *p; }
template <typename T>
inline T __ldcg(const T* p) { return *p; }
template <typename T>
inline void __stcs(T* p, T v) { *p = v; }
template <typename T>
inline void __stcg(T* p, T v) { *p = v; }

[[noreturn]] inline void __trap() {
  std::fprintf(stderr, "cuda_emu: __trap() called in a kernel\n");
  std::abort();
}

// ---- atomics (device-wide; blocks run on several OS threads) ----
#define KVEMU_ATOMIC_INT(T)                                                                              \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }                  \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }                  \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }                \
  inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }                  \
  inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }                    \
  inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }                  \
  inline T atomicCAS(T* p, T expected, T desired) {                                                     \
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);      \
    return expected;                                                                                    \
  }                                                                                                     \
  inline T atomicMax(T* p, T v) {                                                                       \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                       \
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
    }                                                                                                   \
    return old;                                                                                         \
  }                                                                                                     \
  inline T atomicMin(T* p, T v) {                                                                       \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                       \
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
    }                                                                                                   \
    return old;                                                                                         \
  }
KVEMU_ATOMIC_INT(int)
KVEMU_ATOMIC_INT(unsigned int)
KVEMU_ATOMIC_INT(unsigned long long)
KVEMU_ATOMIC_INT(long long)
#undef KVEMU_ATOMIC_INT
inline unsigned short atomicCAS(unsigned short* p, unsigned short expected, unsigned short desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return expected;
}
/** ((old >= limit) ? 0 : old + 1), as CUDA's atomicInc. */
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  unsigned old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, old >= limit ? 0u : old + 1u, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}

namespace kvemu {
template <typename F, typename U, typename Op>
inline F atomic_float_update(F* p, Op op) {
  static_assert(sizeof(F) == sizeof(U), "float and integer views have one size");
  U* u = reinterpret_cast<U*>(p);
  U old = __atomic_load_n(u, __ATOMIC_RELAXED);
  for (;;) {
    F f;
    std::memcpy(&f, &old, sizeof(F));
    const F r = op(f);
    U desired;
    std::memcpy(&desired, &r, sizeof(F));
    if (__atomic_compare_exchange_n(u, &old, desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return f;
  }
}
}  // namespace kvemu
inline float atomicAdd(float* p, float v) {
  return kvemu::atomic_float_update<float, uint32_t>(p, [v](float f) { return f + v; });
}
inline double atomicAdd(double* p, double v) {
  return kvemu::atomic_float_update<double, uint64_t>(p, [v](double f) { return f + v; });
}
inline float atomicExch(float* p, float v) {
  return kvemu::atomic_float_update<float, uint32_t>(p, [v](float) { return v; });
}
