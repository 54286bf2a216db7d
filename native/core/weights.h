// The model's tensors, memory-mapped from their files (GGUF or safetensors). Each tensor is checked
// against its file's size and its dtype's layout when added, so later reads cannot go out of bounds;
// a float tensor that is misaligned in its file is copied to aligned memory (the only copy made).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/weight.h"

namespace kv {

struct TensorRef {
  const void* data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // row-major, outermost first
  int64_t numel() const;
};

class ModelWeights {
 public:
  explicit ModelWeights(const std::vector<std::string>& files);

  /** Registers a tensor; throws std::invalid_argument naming it when it does not fit its file. */
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, int32_t file_index,
           uint64_t offset, uint64_t byte_length);

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorRef& get(const std::string& name) const;

  /** A [rows, cols] matrix view; throws when absent or of another shape. */
  WeightView matrix(const std::string& name, int64_t rows, int64_t cols) const;

  /** A 1-D vector as f32 (converted once at load when stored as F16/BF16); throws when absent or mis-sized. */
  const float* vector_f32(const std::string& name, int64_t n);

  uint64_t mapped_bytes() const;

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorRef> tensors_;
  std::map<std::string, std::vector<float>> converted_;
  std::vector<std::vector<uint64_t>> aligned_copies_;  // misaligned float tensors, copied (see add)
};

}  // namespace kv
