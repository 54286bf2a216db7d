#include "rope_freqs.h"

#include <cmath>

namespace kv {

std::vector<float> rope_inv_freq(int64_t rope_dim, double theta, const float* freq_factors, const Llama3Scaling* llama3) {
  const int64_t half = rope_dim / 2;
  std::vector<float> out(static_cast<size_t>(half));
  const double two_pi = 2.0 * 3.14159265358979323846;
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(theta, -static_cast<double>(2 * i) / static_cast<double>(rope_dim));
    if (freq_factors) f /= static_cast<double>(freq_factors[i]);
    if (llama3) {
      const double low_wavelen = llama3->original_max_position_embeddings / llama3->low_freq_factor;
      const double high_wavelen = llama3->original_max_position_embeddings / llama3->high_freq_factor;
      const double wavelen = two_pi / f;
      if (wavelen > low_wavelen) {
        f = f / llama3->factor;
      } else if (!(wavelen < high_wavelen)) {  // medium band: interpolate
        const double smooth = (llama3->original_max_position_embeddings / wavelen - llama3->low_freq_factor) /
                              (llama3->high_freq_factor - llama3->low_freq_factor);
        f = (1.0 - smooth) * f / llama3->factor + smooth * f;
      }
    }
    out[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return out;
}

}  // namespace kv
