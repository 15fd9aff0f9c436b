#pragma once
// Gathers equal-sized blocks of bytes (rows of a batch, slices of index_select) into one
// contiguous buffer. index_select and the DataLoader's gather_rows both copy through it.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tapegrad/core/threading.h"

namespace tg::kernels {

inline constexpr std::size_t kParallelCopyBytes = std::size_t{256} << 10;

// Copies `count` blocks of `block_bytes`: block i goes to dst + i * block_bytes from
// src + source_block(i) * block_bytes. A copy is memory-bound, so it stays on the calling thread
// below kParallelCopyBytes (waking a worker for a batch costs about what it saves) and above
// that is cut into one even part per thread. A template, so that source_block inlines: a slice
// may be a single element.
template <typename SourceBlock>
void copy_rows(std::byte* dst, const std::byte* src, std::size_t block_bytes, std::int64_t count,
               SourceBlock&& source_block) {
  if (count <= 0 || block_bytes == 0) return;
  const auto copy = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      std::memcpy(dst + static_cast<std::size_t>(i) * block_bytes,
                  src + static_cast<std::size_t>(source_block(i)) * block_bytes, block_bytes);
  };
  const std::int64_t threads = get_num_threads();
  if (block_bytes * static_cast<std::size_t>(count) < kParallelCopyBytes || threads <= 1) {
    copy(0, count);
    return;
  }
  // A copy has no reduction, so the cut may follow the thread count: one even part each.
  detail::parallel_for(count, (count + threads - 1) / threads, copy);
}

}  // namespace tg::kernels
