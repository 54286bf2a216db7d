// Owning handles for device and pinned host memory of the CUDA backend (host code).
#pragma once
#include <cstddef>
#include <utility>

#include "core/cuda/kv_cuda.h"

namespace kv::cuda {

/** A device allocation that can grow (contents are not kept when it does). */
class DeviceMemory {
 public:
  DeviceMemory() = default;
  explicit DeviceMemory(size_t bytes) { ensure(bytes); }
  ~DeviceMemory() { release(); }
  DeviceMemory(DeviceMemory&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  /** At least `bytes` bytes (at least 256, so a pointer is always valid). */
  void ensure(size_t bytes) {
    if (bytes <= bytes_ && ptr_) return;
    release();
    const size_t n = bytes < 256 ? 256 : bytes;
    KV_CUDA_CHECK(cudaMalloc(&ptr_, n));
    bytes_ = n;
  }
  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void release() {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

/** A pinned (page-locked) host buffer for the per-step copies; grows like DeviceMemory. */
class PinnedMemory {
 public:
  PinnedMemory() = default;
  ~PinnedMemory() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;

  void ensure(size_t bytes) {
    if (bytes <= bytes_ && ptr_) return;
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
    const size_t n = bytes < 256 ? 256 : bytes;
    KV_CUDA_CHECK(cudaMallocHost(&ptr_, n));
    bytes_ = n;
  }
  template <typename T = unsigned char>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace kv::cuda
