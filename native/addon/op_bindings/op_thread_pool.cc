#include <memory>

#include "op_bindings/op_bindings.h"

namespace kv::napi {

namespace {
std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

ThreadPool& op_thread_pool() {
  std::unique_ptr<ThreadPool>& pool = pool_slot();
  if (!pool) pool = std::make_unique<ThreadPool>(2);
  return *pool;
}

ThreadPool& op_thread_pool(int num_threads) {
  // Op bindings run on the JS thread only, so no call can be using the pool while it is replaced.
  std::unique_ptr<ThreadPool>& pool = pool_slot();
  if (!pool || pool->num_threads() != num_threads) {
    pool.reset();  // join the old workers before starting new ones
    pool = std::make_unique<ThreadPool>(num_threads);
  }
  return *pool;
}

}  // namespace kv::napi
