#include "tapegrad/core/storage.h"

#include <atomic>
#include <new>

#include "tapegrad/core/error.h"

namespace tg {
namespace {
constexpr std::align_val_t kAlignment{64};
std::atomic<std::int64_t> g_live_storages{0};
std::atomic<std::int64_t> g_live_bytes{0};
std::atomic<std::int64_t> g_peak_bytes{0};
std::atomic<std::int64_t> g_live_tensors{0};
}  // namespace

Storage::Storage(std::size_t nbytes) : nbytes_(nbytes) {
  if (nbytes > 0) {
    try {
      data_ = ::operator new(nbytes, kAlignment);
    } catch (const std::bad_alloc&) {
      throw Error(detail::concat("allocation of ", nbytes, " bytes failed (out of memory)"));
    }
  }
  g_live_storages.fetch_add(1, std::memory_order_relaxed);
  const auto now = g_live_bytes.fetch_add(static_cast<std::int64_t>(nbytes)) +
                   static_cast<std::int64_t>(nbytes);
  auto peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

Storage::~Storage() {
  if (data_) ::operator delete(data_, kAlignment);
  g_live_storages.fetch_sub(1, std::memory_order_relaxed);
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(nbytes_), std::memory_order_relaxed);
}

MemoryStats memory_stats() {
  return {g_live_storages.load(), g_live_bytes.load(), g_peak_bytes.load(),
          g_live_tensors.load()};
}

namespace detail {
void count_tensor(int delta) { g_live_tensors.fetch_add(delta, std::memory_order_relaxed); }
}  // namespace detail

}  // namespace tg
