#include "weights.h"

#include <cstring>
#include <stdexcept>

namespace kv {

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

ModelWeights::ModelWeights(const std::vector<std::string>& files) {
  for (const auto& f : files) files_.push_back(std::make_unique<MappedFile>(f));
}

void ModelWeights::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, int32_t file_index,
                       uint64_t offset, uint64_t byte_length) {
  if (file_index < 0 || static_cast<size_t>(file_index) >= files_.size()) {
    throw std::invalid_argument("tensor '" + name + "': file index " + std::to_string(file_index) + " out of range");
  }
  const MappedFile& file = *files_[file_index];
  if (shape.empty() || shape.size() > 4) throw std::invalid_argument("tensor '" + name + "': expected 1 to 4 dims");
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d <= 0 || d > (int64_t(1) << 40) || numel > (int64_t(1) << 42) / d) {
      throw std::invalid_argument("tensor '" + name + "': invalid dimension " + std::to_string(d));
    }
    numel *= d;
  }
  if (!dtype_valid(static_cast<int32_t>(dtype))) {
    throw std::invalid_argument("tensor '" + name + "': unknown dtype " + std::to_string(static_cast<int32_t>(dtype)));
  }
  const int64_t block = dtype_block_elems(dtype);
  if (shape.back() % block != 0) {
    throw std::invalid_argument("tensor '" + name + "': last dimension " + std::to_string(shape.back()) +
                                " is not a multiple of the " + dtype_name(dtype) + " block size " + std::to_string(block));
  }
  const uint64_t expected = static_cast<uint64_t>(numel / block * dtype_block_bytes(dtype));
  if (byte_length != expected) {
    throw std::invalid_argument("tensor '" + name + "': " + std::to_string(byte_length) + " bytes, expected " +
                                std::to_string(expected) + " for its shape and dtype");
  }
  if (offset > file.size() || byte_length > file.size() - offset) {
    throw std::invalid_argument("tensor '" + name + "': bytes [" + std::to_string(offset) + ", +" +
                                std::to_string(byte_length) + ") extend past the end of " + file.path() + " (" +
                                std::to_string(file.size()) + " bytes)");
  }
  TensorRef ref;
  ref.data = file.data() + offset;
  const size_t elem_bytes = dtype_block_elems(dtype) == 1 ? static_cast<size_t>(dtype_block_bytes(dtype)) : 1;
  if (reinterpret_cast<uintptr_t>(ref.data) % elem_bytes != 0) {
    // A float tensor at an offset that is not a multiple of its element size (safetensors allows any
    // header length): kernels read it as float / uint16 arrays, so it gets an aligned copy.
    std::vector<uint64_t> copy((byte_length + 7) / 8);
    if (byte_length > 0) std::memcpy(copy.data(), ref.data, byte_length);
    aligned_copies_.push_back(std::move(copy));
    ref.data = aligned_copies_.back().data();
  }
  ref.dtype = dtype;
  ref.shape = shape;
  tensors_[name] = std::move(ref);
}

const TensorRef& ModelWeights::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw std::invalid_argument("missing tensor '" + name + "'");
  return it->second;
}

static std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

WeightView ModelWeights::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const TensorRef& t = get(name);
  if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols) {
    throw std::invalid_argument("tensor '" + name + "': shape " + shape_str(t.shape) + ", expected [" +
                                std::to_string(rows) + ", " + std::to_string(cols) + "]");
  }
  WeightView w;
  w.data = t.data;
  w.dtype = t.dtype;
  w.rows = rows;
  w.cols = cols;
  return w;
}

const float* ModelWeights::vector_f32(const std::string& name, int64_t n) {
  const TensorRef& t = get(name);
  if (t.numel() != n || t.shape.back() != n) {
    throw std::invalid_argument("tensor '" + name + "': shape " + shape_str(t.shape) + ", expected [" + std::to_string(n) + "]");
  }
  if (t.dtype == DType::F32) return static_cast<const float*>(t.data);
  auto it = converted_.find(name);
  if (it != converted_.end()) return it->second.data();
  std::vector<float> out(n);
  const auto* src = static_cast<const uint16_t*>(t.data);
  if (t.dtype == DType::F16) {
    for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(src[i]);
  } else if (t.dtype == DType::BF16) {
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(src[i]);
  } else {
    throw std::invalid_argument("tensor '" + name + "': a 1-D tensor must be F32, F16 or BF16, got " + dtype_name(t.dtype));
  }
  return converted_.emplace(name, std::move(out)).first->second.data();
}

uint64_t ModelWeights::mapped_bytes() const {
  uint64_t n = 0;
  for (const auto& f : files_) n += f->size();
  return n;
}

}  // namespace kv
