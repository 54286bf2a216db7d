// libFuzzer target: ModelWeights (native/core/weights.cc) fed hostile tensor descriptions against a
// hostile file, as the addon feeds it from a model file's header. Property: add() either rejects a
// tensor with std::invalid_argument or accepts one that lies inside its file; every accepted matrix
// and vector view reads end to end (rows dequantized, vectors converted to f32) with no out-of-bounds
// access and no undefined behaviour (ASan + UBSan).
//
// Input layout (fuzz_input.h): u8 num_files_minus_1, u32 split, u8 num_tensors; per tensor: u8 name,
// i32 dtype, u8 ndims, f64 dims[ndims] (JS numbers, as the description carries them), i32 file_index,
// u64 offset, u64 byte_length; u8 num_queries; per query: u8 name, u8 kind, i64 a, i64 b;
// then the files' bytes (split at `split` when there are two files).
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/checked_number.h"
#include "core/weights.h"
#include "fuzz/fuzz_input.h"
#include "ops/dequantize/dequantize.h"

namespace {

std::string temp_path(int index) {
  const char* dir = getenv("KVSERVE_FUZZ_TMP");
  return std::string(dir ? dir : "/tmp") + "/kvserve-fuzz-weights-" + std::to_string(getpid()) + "-" + std::to_string(index);
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) kv::fuzz::oracle_failure("cannot create " + path);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) kv::fuzz::oracle_failure("cannot write " + path);
    done += static_cast<size_t>(n);
  }
  close(fd);
}

struct Accepted {
  int32_t file_index;
  uint64_t offset;
  uint64_t byte_length;
};

constexpr int64_t kMaxReadElems = int64_t(1) << 18;  // bounded work per query

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kv::fuzz::Input in(data, size);
  const int num_files = 1 + (in.read<uint8_t>() & 1);
  const uint32_t split = in.read<uint32_t>();
  struct TensorDesc {
    std::string name;
    int32_t dtype;
    std::vector<double> dims;
    int32_t file_index;
    uint64_t offset, byte_length;
  };
  std::vector<TensorDesc> tensors(in.read<uint8_t>() % 17);
  for (auto& t : tensors) {
    t.name = "t" + std::to_string(in.read<uint8_t>() % 8);
    t.dtype = in.read<int32_t>();
    t.dims = in.array<double>(in.read<uint8_t>() % 6);
    t.file_index = in.read<int32_t>();
    t.offset = in.read<uint64_t>();
    t.byte_length = in.read<uint64_t>();
  }
  struct Query {
    std::string name;
    uint8_t kind;
    int64_t a, b;
  };
  std::vector<Query> queries(in.read<uint8_t>() % 9);
  for (auto& q : queries) {
    q.name = "t" + std::to_string(in.read<uint8_t>() % 8);
    q.kind = in.read<uint8_t>();
    q.a = in.read<int64_t>();
    q.b = in.read<int64_t>();
  }
  const std::vector<uint8_t> bytes = in.rest();
  const size_t cut = num_files == 2 ? std::min<size_t>(split, bytes.size()) : bytes.size();
  std::vector<std::string> paths;
  std::vector<size_t> sizes;
  for (int f = 0; f < num_files; ++f) {
    const size_t begin = f == 0 ? 0 : cut, end = f == 0 ? cut : bytes.size();
    paths.push_back(temp_path(f));
    sizes.push_back(end - begin);
    write_file(paths.back(), bytes.data() + begin, end - begin);
  }

  kv::ModelWeights weights(paths);
  std::map<std::string, Accepted> accepted;
  for (const auto& t : tensors) {
    // As the addon reads a description (model_config_parse.cc): each dimension a checked integer.
    std::vector<int64_t> shape;
    bool dims_ok = true;
    for (double d : t.dims) {
      int64_t dim = 0;
      dims_ok = dims_ok && kv::checked_integer(d, 1, int64_t(1) << 40, &dim);
      shape.push_back(dim);
    }
    if (!dims_ok) continue;
    try {
      weights.add(t.name, static_cast<kv::DType>(t.dtype), shape, t.file_index, t.offset, t.byte_length);
    } catch (const std::invalid_argument&) {
      continue;
    }
    if (t.file_index < 0 || t.file_index >= num_files) kv::fuzz::oracle_failure("accepted a file index out of range");
    const uint64_t file_size = sizes[static_cast<size_t>(t.file_index)];
    if (t.offset > file_size || t.byte_length > file_size - t.offset) {
      kv::fuzz::oracle_failure("accepted a tensor that extends past its file");
    }
    accepted[t.name] = {t.file_index, t.offset, t.byte_length};
  }

  for (const auto& q : queries) {
    if (!weights.has(q.name)) continue;
    const kv::TensorRef& ref = weights.get(q.name);
    const Accepted& acc = accepted.at(q.name);
    try {
      if (q.kind % 2 == 0) {
        // A matrix view: either the tensor's own 2-D shape (reaches the reads) or fuzzed dimensions.
        int64_t rows = q.a, cols = q.b;
        if (q.kind % 4 == 0 && ref.shape.size() == 2) rows = ref.shape[0], cols = ref.shape[1];
        const kv::WeightView w = weights.matrix(q.name, rows, cols);
        const uint64_t view_bytes = static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.row_bytes());
        if (view_bytes > acc.byte_length) kv::fuzz::oracle_failure("a matrix view is larger than its tensor");
        if (w.cols > kMaxReadElems) continue;
        std::vector<float> row(static_cast<size_t>(w.cols));
        const int64_t max_rows = std::min<int64_t>(w.rows, std::max<int64_t>(1, kMaxReadElems / std::max<int64_t>(1, w.cols)));
        for (int64_t r = 0; r < max_rows; ++r) kv::cpu_portable::dequantize_row_cpu(row.data(), w.row(r), w.dtype, w.cols);
      } else {
        int64_t n = q.a;
        if (q.kind % 4 == 1) n = ref.numel();
        const float* v = weights.vector_f32(q.name, n);
        if (n > kMaxReadElems) continue;
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += v[i];
        if (std::isnan(sum) && n < 0) kv::fuzz::oracle_failure("unreachable");
      }
    } catch (const std::invalid_argument&) {
      // Rejected query: fine.
    }
  }
  for (const auto& p : paths) unlink(p.c_str());
  return 0;
}
