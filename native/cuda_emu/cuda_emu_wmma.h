// cuda_emu: nvcuda::wmma (mma.h subset: fragments of half / bf16 / float, fill, load, store, mma) so a
// kernel's tensor-core path can run here too (kernels select it with KV_WMMA, see core/cuda/kv_cuda.h).
// The hardware spreads a fragment over the 32 lanes in an unspecified layout; here every lane holds
// the whole tile (num_elements = rows x cols), so only layout-agnostic code is portable: fill, load,
// store, mma and element-wise loops over x[0, num_elements). Each operation is a warp collective
// (all 32 lanes must reach it, as on the GPU); a store writes only the calling lane's share of the
// tile (elements i with i % 32 == lane), so reading another lane's share needs a __syncwarp, as there.
// Accumulation is float FMA in k order (tensor cores sum products of the same 16-bit inputs in float
// with their own order): compare with tolerances.
#pragma once
#include <cstdint>

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K>
struct fragment_shape;
template <int M, int N, int K>
struct fragment_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct fragment_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct fragment_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
 public:
  static constexpr int kRows = fragment_shape<Use, M, N, K>::rows;
  static constexpr int kCols = fragment_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = kRows * kCols;
  T x[num_elements];  // row-major (kRows x kCols) whatever the memory layout
};

namespace detail {
inline void converge(const char* file, int line) {
  kvemu::warp_collective(kvemu::WarpOp::Sync, 0xffffffffu, 0, 0, 32, file, line);
}
inline int lane() { return static_cast<int>((threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y) & 31); }
template <typename T>
inline float to_float(T v) { return static_cast<float>(v); }
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout, typename V>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& v) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<T>(v);
}

/** matrix_a / matrix_b: the layout is the fragment's type parameter. */
template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm,
                             const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(std::is_same<Layout, row_major>::value || std::is_same<Layout, col_major>::value,
                "matrix_a / matrix_b fragments name their layout");
  detail::converge(file, line);
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::kRows; ++r) {
    for (int c = 0; c < F::kCols; ++c) {
      f.x[r * F::kCols + c] = std::is_same<Layout, row_major>::value ? p[r * ldm + c] : p[c * ldm + r];
    }
  }
}

/** Accumulators: the memory layout is an argument. */
template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout,
                             const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::converge(file, line);
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) f.x[r * N + c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout,
                              const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::converge(file, line);
  const int me = detail::lane();
  for (int i = me; i < M * N; i += 32) {
    const int r = i / N, c = i % N;
    (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[i];
  }
}

template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                     const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, float>& c,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::converge(file, line);
  float out[M * N];
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      float acc = c.x[i * N + j];
      for (int k = 0; k < K; ++k) acc = std::fma(detail::to_float(a.x[i * K + k]), detail::to_float(b.x[k * N + j]), acc);
      out[i * N + j] = acc;
    }
  }
  for (int i = 0; i < M * N; ++i) d.x[i] = out[i];
}

}  // namespace wmma
}  // namespace nvcuda
