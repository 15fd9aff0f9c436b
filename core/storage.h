#pragma once
// Memory statistics and the block cache behind tensor storage (the Storage class itself is
// internal: core/detail/storage.h).
#include <cstdint>

namespace tg {

// Live counts, so tests can show that training loops and dropped graphs free everything.
struct MemoryStats {
  std::int64_t live_storages;
  std::int64_t live_bytes;    // bytes held by live tensors
  std::int64_t peak_bytes;    // the most live_bytes has been
  std::int64_t live_tensors;  // TensorImpl objects alive (views count)
  std::int64_t cached_bytes;  // freed large blocks kept for reuse (see empty_cache)
};
MemoryStats memory_stats();

// The large-block cache (blocks of 64 KiB and up come from mmap; a freed one is kept for reuse
// because first touch of fresh pages is slow). Policy:
//  - reuse: the smallest cached block that fits a request serves it if the request is at least
//    3/4 of the block (bounded waste), so repeated shapes reuse warm blocks and near sizes share;
//  - cap: cached bytes stay within cache_limit_bytes(); a free that would exceed it unmaps the
//    least recently cached blocks first (back to the OS at once). The default limit follows the
//    program: the most bytes live in large blocks at once (so a training loop's whole step is
//    kept), at least 256 MiB and at most 1/4 of physical memory. TAPEGRAD_CACHE_LIMIT_MB (read at
//    first use) or set_cache_limit_bytes fixes it instead.
// Small blocks (< 64 KiB) are kept per thread, at most 1 MiB per size class.
std::int64_t cached_bytes();  // = memory_stats().cached_bytes
std::int64_t cache_limit_bytes();
// Fixes the limit (0: cache nothing large); a negative value restores the default. Trims now.
void set_cache_limit_bytes(std::int64_t bytes);
// Returns cached large blocks to the operating system, and the calling thread's cached small
// blocks to the heap (as torch.cuda.empty_cache does for its cache).
void empty_cache();

}  // namespace tg
