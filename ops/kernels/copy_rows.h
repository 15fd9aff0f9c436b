#pragma once
// Gathers equal-sized blocks of bytes (rows of a batch, slices of index_select) into one
// contiguous buffer. index_select and the DataLoader's gather_rows both copy through it.
#include <cstddef>
#include <cstdint>
#include <functional>

namespace tg::kernels {

// Copies `count` blocks of `block_bytes`: block i goes to dst + i * block_bytes from
// src + source_block(i) * block_bytes. A copy is memory-bound, so it stays on the calling thread
// below kParallelCopyBytes (waking a worker for a batch costs about what it saves) and above
// that is cut into one even part per thread.
void copy_rows(std::byte* dst, const std::byte* src, std::size_t block_bytes, std::int64_t count,
               const std::function<std::int64_t(std::int64_t)>& source_block);

inline constexpr std::size_t kParallelCopyBytes = std::size_t{256} << 10;

}  // namespace tg::kernels
