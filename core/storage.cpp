#include "tapegrad/core/detail/storage.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "tapegrad/core/error.h"

namespace tg {
namespace {
constexpr std::align_val_t kAlignment{64};
// Blocks at least this large come from mmap (with transparent huge pages from 2 MiB on) and are
// cached when freed: first touch of fresh pages costs ~10 us per 4 KiB page on these VMs, and
// malloc hands such blocks back to the system, so reusing warm blocks (activations of the same
// shapes every step) is much cheaper than mapping new ones. The policy is in storage.h.
constexpr std::size_t kLargeBlock = std::size_t{64} << 10;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kDefaultLimitFloor = 256 * kMiB;

std::atomic<std::int64_t> g_live_storages{0};
std::atomic<std::int64_t> g_live_bytes{0};
std::atomic<std::int64_t> g_peak_bytes{0};
std::atomic<std::int64_t> g_live_tensors{0};

// Sizes are rounded so that blocks of nearby sizes can be reused for each other.
std::size_t round_large(std::size_t n) {
  const std::size_t unit = n >= kHugePage ? kHugePage : kLargeBlock;
  return (n + unit - 1) / unit * unit;
}

std::size_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page)
                               : 0;
}

// TAPEGRAD_CACHE_LIMIT_MB, if set to a whole number of MiB; anything else is reported once and
// ignored (an allocator cannot throw at first use).
std::optional<std::size_t> env_limit() {
  const char* s = std::getenv("TAPEGRAD_CACHE_LIMIT_MB");
  if (s == nullptr || *s == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long mb = std::strtoull(s, &end, 10);
  if (*end != '\0' || errno != 0 || *s == '-' || mb > (SIZE_MAX >> 20)) {
    std::fprintf(stderr,
                 "tapegrad: ignoring TAPEGRAD_CACHE_LIMIT_MB=%s (expected MiB as a whole "
                 "number)\n",
                 s);
    return std::nullopt;
  }
  return static_cast<std::size_t>(mb) << 20;
}

void* map_block(std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED && size >= kHugePage) ::madvise(p, size, MADV_HUGEPAGE);
  return p == MAP_FAILED ? nullptr : p;
}

class LargeBlockCache {
 public:
  LargeBlockCache() : fixed_limit_(env_limit()) {
    const std::size_t quarter = physical_memory() / 4;
    ceiling_ = quarter ? quarter : std::size_t{2} << 30;
    floor_ = std::min(kDefaultLimitFloor, ceiling_);
  }

  // A block of at least `size` bytes; `block` gets its real size (what give_back wants).
  void* take(std::size_t size, std::size_t& block) {
    {
      std::lock_guard lock(mutex_);
      // Best fit with bounded waste: the smallest cached block that fits, if size >= 3/4 of it.
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first - size <= it->first / 4) {
        block = it->first;
        void* p = it->second.ptr;
        free_.erase(it);
        cached_ -= block;
        note_live(block);
        return p;
      }
    }
    void* p = map_block(size);
    if (p == nullptr) {
      release_all();  // give cached blocks back and try once more
      p = map_block(size);
      if (p == nullptr)
        throw Error(detail::concat("allocation of ", size, " bytes failed (out of memory)"));
    }
    std::lock_guard lock(mutex_);
    note_live(size);
    block = size;
    return p;
  }

  void give_back(void* p, std::size_t size) {
    std::vector<std::pair<void*, std::size_t>> unmap;  // unmapped after the lock is released
    {
      std::lock_guard lock(mutex_);
      live_ -= size;
      const std::size_t limit = limit_locked();
      if (size > limit) {
        unmap.emplace_back(p, size);
      } else {
        while (cached_ + size > limit) unmap.push_back(evict_oldest_locked());
        free_.emplace(size, Entry{p, ++clock_});
        cached_ += size;
      }
    }
    for (auto [q, n] : unmap) ::munmap(q, n);
  }

  void release_all() {
    std::multimap<std::size_t, Entry> gone;
    {
      std::lock_guard lock(mutex_);
      gone.swap(free_);
      cached_ = 0;
      peak_live_ = live_;  // the default limit starts again from what is live now
    }
    for (auto& [size, e] : gone) ::munmap(e.ptr, size);
  }

  void set_limit(std::optional<std::size_t> limit) {
    std::vector<std::pair<void*, std::size_t>> unmap;
    {
      std::lock_guard lock(mutex_);
      fixed_limit_ = limit;
      while (cached_ > limit_locked()) unmap.push_back(evict_oldest_locked());
    }
    for (auto [q, n] : unmap) ::munmap(q, n);
  }

  std::size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_locked();
  }

  std::size_t cached() {
    std::lock_guard lock(mutex_);
    return cached_;
  }

 private:
  struct Entry {
    void* ptr;
    std::uint64_t seq;  // when it was cached: the oldest goes first when over the limit
  };

  void note_live(std::size_t size) {
    live_ += size;
    peak_live_ = std::max(peak_live_, live_);
  }

  std::size_t limit_locked() const {
    return fixed_limit_ ? *fixed_limit_ : std::clamp(peak_live_, floor_, ceiling_);
  }

  // Linear in the cached blocks (a few hundred at most), and only runs when over the limit.
  std::pair<void*, std::size_t> evict_oldest_locked() {
    auto oldest = free_.begin();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second.seq < oldest->second.seq) oldest = it;
    const std::pair<void*, std::size_t> victim{oldest->second.ptr, oldest->first};
    cached_ -= oldest->first;
    free_.erase(oldest);
    return victim;
  }

  std::mutex mutex_;
  std::multimap<std::size_t, Entry> free_;
  std::size_t cached_ = 0;
  std::size_t live_ = 0;       // bytes of large blocks in use
  std::size_t peak_live_ = 0;  // the most live_ has been (since the last empty_cache)
  std::uint64_t clock_ = 0;
  std::optional<std::size_t> fixed_limit_;
  std::size_t floor_ = 0, ceiling_ = 0;
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
    data_ = large_cache().take(round_large(nbytes), block_);
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
  if (block_ != 0)
    large_cache().give_back(data_, block_);
  else if (data_)
    give_back_small(data_, nbytes_);
  g_live_storages.fetch_sub(1, std::memory_order_relaxed);
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(nbytes_), std::memory_order_relaxed);
}

MemoryStats memory_stats() {
  return {g_live_storages.load(), g_live_bytes.load(), g_peak_bytes.load(), g_live_tensors.load(),
          static_cast<std::int64_t>(large_cache().cached())};
}

std::int64_t cached_bytes() { return static_cast<std::int64_t>(large_cache().cached()); }

std::int64_t cache_limit_bytes() { return static_cast<std::int64_t>(large_cache().limit()); }

void set_cache_limit_bytes(std::int64_t bytes) {
  large_cache().set_limit(bytes < 0 ? std::nullopt
                                    : std::optional<std::size_t>(static_cast<std::size_t>(bytes)));
}

void empty_cache() {
  large_cache().release_all();
  if (!t_small_cache_gone) t_small_cache.release();
}

namespace detail {
void count_tensor(int delta) { g_live_tensors.fetch_add(delta, std::memory_order_relaxed); }
}  // namespace detail

}  // namespace tg
