#pragma once
// The bytes behind one or more tensors (views share a Storage), plus the version counter that
// autograd uses to detect in-place changes of saved tensors.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tapegrad/core/storage.h"

namespace tg {

class Storage {
 public:
  explicit Storage(std::size_t nbytes);  // 64-byte aligned, uninitialized
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }

  // Atomic: threads may write disjoint parts of one storage (e.g. rows through views), and
  // each write must count; relaxed, since it orders nothing else.
  std::uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  std::size_t block_ = 0;  // bytes of the large block behind data_ (may exceed nbytes_), or 0
  std::atomic<std::uint32_t> version_{0};
};

namespace detail {
void count_tensor(int delta);  // called by TensorImpl's constructor and destructor
}

}  // namespace tg
