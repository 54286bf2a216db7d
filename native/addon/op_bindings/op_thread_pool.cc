#include <memory>

#include "op_bindings/op_bindings.h"

namespace kv::napi {

ThreadPool& op_thread_pool() {
  static std::unique_ptr<ThreadPool> pool = std::make_unique<ThreadPool>(2);
  return *pool;
}

}  // namespace kv::napi
