// JS numbers to integers without undefined behaviour: converting NaN, an infinity or a double outside
// the target's range to an integer type is undefined in C++, so every number the addon receives where
// it wants an integer goes through this check first (the fuzz targets in native/fuzz run it too).
#pragma once
#include <cmath>
#include <cstdint>

namespace kv {

/** `value` as an integer in [lo, hi], or false when it is NaN, infinite, fractional or out of range. */
inline bool checked_integer(double value, int64_t lo, int64_t hi, int64_t* out) {
  if (!std::isfinite(value) || value != std::floor(value)) return false;
  if (value < static_cast<double>(lo) || value > static_cast<double>(hi)) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

}  // namespace kv
