#include "tapegrad/core/storage.h"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <bit>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "tapegrad/core/error.h"

namespace tg {
namespace {
constexpr std::align_val_t kAlignment{64};
// Blocks at least this large come from mmap (with transparent huge pages from 2 MiB on) and are
// cached when freed: first touch of fresh pages costs ~10 us per 4 KiB page on these VMs, and
// malloc hands such blocks back to the system, so reusing warm blocks (activations of the same
// shapes every step) is much cheaper than mapping new ones.
constexpr std::size_t kLargeBlock = std::size_t{64} << 10;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kCacheLimit = std::size_t{2} << 30;

std::atomic<std::int64_t> g_live_storages{0};
std::atomic<std::int64_t> g_live_bytes{0};
std::atomic<std::int64_t> g_peak_bytes{0};
std::atomic<std::int64_t> g_live_tensors{0};

// Sizes are rounded so that blocks of nearby sizes can be reused for each other.
std::size_t round_large(std::size_t n) {
  const std::size_t unit = n >= kHugePage ? kHugePage : kLargeBlock;
  return (n + unit - 1) / unit * unit;
}

class LargeBlockCache {
 public:
  void* take(std::size_t size) {
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= size;
        return p;
      }
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      release_all();  // give cached blocks back and try once more
      p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED)
        throw Error(detail::concat("allocation of ", size, " bytes failed (out of memory)"));
    }
    if (size >= kHugePage) ::madvise(p, size, MADV_HUGEPAGE);
    return p;
  }

  void give_back(void* p, std::size_t size) {
    std::lock_guard lock(mutex_);
    if (cached_ + size > kCacheLimit) {
      ::munmap(p, size);
      return;
    }
    free_.emplace(size, p);
    cached_ += size;
  }

  void release_all() {
    std::lock_guard lock(mutex_);
    for (auto& [size, p] : free_) ::munmap(p, size);
    free_.clear();
    cached_ = 0;
  }

  std::size_t cached() {
    std::lock_guard lock(mutex_);
    return cached_;
  }

 private:
  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
  std::size_t cached_ = 0;
};

// Small blocks: a free list per power-of-two size class and thread. Small models make many tiny
// tensors per op (scalars, biases, per-batch statistics), and malloc's aligned path (memalign)
// skips its fast per-thread cache; reusing blocks here takes that off every op. Sanitizer builds
// skip the cache so that AddressSanitizer sees every use after free.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheSmallBlocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCacheSmallBlocks = false;
#else
constexpr bool kCacheSmallBlocks = true;
#endif
#else
constexpr bool kCacheSmallBlocks = true;
#endif
constexpr std::size_t kMinSmallBlock = 64;
// Classes of 64 B, 128 B, ..., 64 KiB: every size below kLargeBlock has one.
constexpr std::size_t kSmallClasses = 11;
constexpr std::size_t kMaxBlocksPerClass = 64;
constexpr std::size_t kMaxBytesPerClass = std::size_t{1} << 20;  // per thread
static_assert((kMinSmallBlock << (kSmallClasses - 1)) == kLargeBlock);

std::size_t small_class(std::size_t nbytes) {
  return nbytes <= kMinSmallBlock ? 0
                                  : std::bit_width(nbytes - 1) - std::bit_width(kMinSmallBlock - 1);
}

void* new_aligned(std::size_t nbytes) {
  try {
    return ::operator new(nbytes, kAlignment);
  } catch (const std::bad_alloc&) {
    throw Error(detail::concat("allocation of ", nbytes, " bytes failed (out of memory)"));
  }
}

thread_local bool t_small_cache_gone = false;  // set once this thread's cache is destroyed

struct SmallBlockCache {
  std::array<std::vector<void*>, kSmallClasses> free;
  ~SmallBlockCache() {
    release();
    t_small_cache_gone = true;  // storages freed later on this thread go straight to the heap
  }
  void release() {
    for (auto& blocks : free) {
      for (void* p : blocks) ::operator delete(p, kAlignment);
      blocks.clear();
    }
  }
};
thread_local SmallBlockCache t_small_cache;

void* take_small(std::size_t nbytes) {
  const std::size_t c = small_class(nbytes);
  if (kCacheSmallBlocks && !t_small_cache_gone) {
    auto& blocks = t_small_cache.free[c];
    if (!blocks.empty()) {
      void* p = blocks.back();
      blocks.pop_back();
      return p;
    }
  }
  return new_aligned(kMinSmallBlock << c);
}

void give_back_small(void* p, std::size_t nbytes) {
  if (kCacheSmallBlocks && !t_small_cache_gone) {
    const std::size_t c = small_class(nbytes);
    auto& blocks = t_small_cache.free[c];
    if (blocks.size() < kMaxBlocksPerClass &&
        (blocks.size() + 1) * (kMinSmallBlock << c) <= kMaxBytesPerClass) {
      blocks.push_back(p);
      return;
    }
  }
  ::operator delete(p, kAlignment);
}

LargeBlockCache& large_cache() {
  static auto* cache = new LargeBlockCache();  // leaked on purpose: storages may outlive statics
  return *cache;
}

}  // namespace

Storage::Storage(std::size_t nbytes) : nbytes_(nbytes) {
  if (nbytes >= kLargeBlock) {
    data_ = large_cache().take(round_large(nbytes));
  } else if (nbytes > 0) {
    data_ = take_small(nbytes);
  }
  g_live_storages.fetch_add(1, std::memory_order_relaxed);
  const auto now =
      g_live_bytes.fetch_add(static_cast<std::int64_t>(nbytes), std::memory_order_relaxed) +
      static_cast<std::int64_t>(nbytes);
  auto peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

Storage::~Storage() {
  if (nbytes_ >= kLargeBlock)
    large_cache().give_back(data_, round_large(nbytes_));
  else if (data_)
    give_back_small(data_, nbytes_);
  g_live_storages.fetch_sub(1, std::memory_order_relaxed);
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(nbytes_), std::memory_order_relaxed);
}

MemoryStats memory_stats() {
  return {g_live_storages.load(), g_live_bytes.load(), g_peak_bytes.load(), g_live_tensors.load(),
          static_cast<std::int64_t>(large_cache().cached())};
}

void empty_cache() {
  large_cache().release_all();
  if (!t_small_cache_gone) t_small_cache.release();
}

namespace detail {
void count_tensor(int delta) { g_live_tensors.fetch_add(delta, std::memory_order_relaxed); }
}  // namespace detail

}  // namespace tg
