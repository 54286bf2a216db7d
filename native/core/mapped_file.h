// A read-only memory mapping of a whole file: model weights are used in place (or copied once into a
// kernel's packed layout, after which release() drops the mapped pages the copy replaced).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace kv {

class MappedFile {
 public:
  /** Maps `path`; throws std::runtime_error naming the file on failure. */
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  /**
   * Drops the resident pages wholly inside [p, p + bytes) of any read-only file mapping (madvise
   * DONTNEED): they no longer count in the process's memory, and a later read faults them back in
   * from the file, so releasing bytes still in use costs time, never correctness.
   */
  static void release(const void* p, size_t bytes);

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kv
