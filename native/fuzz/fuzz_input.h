// Reads a fuzzer input front to back as little-endian fields; past the end every value is zero, so
// any byte string is a valid input. The seed writer (bench/fuzz/native-seeds.ts) uses the same layout.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace kv::fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <typename T>
  T read() {
    T v{};
    const size_t n = pos_ < size_ ? std::min(sizeof(T), size_ - pos_) : 0;
    if (n) std::memcpy(&v, data_ + pos_, n);
    pos_ += sizeof(T);
    return v;
  }

  /** `count` values (count capped by the caller). */
  template <typename T>
  std::vector<T> array(size_t count) {
    std::vector<T> out(count);
    for (auto& v : out) v = read<T>();
    return out;
  }

  /** The unread bytes. */
  std::vector<uint8_t> rest() const {
    if (pos_ >= size_) return {};
    return std::vector<uint8_t>(data_ + pos_, data_ + size_);
  }

  size_t remaining() const { return pos_ < size_ ? size_ - pos_ : 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

/** Aborts (a libFuzzer crash) with a message when an oracle check fails. */
[[noreturn]] inline void oracle_failure(const std::string& what) {
  fprintf(stderr, "ORACLE FAILURE: %s\n", what.c_str());
  __builtin_trap();
}

}  // namespace kv::fuzz
