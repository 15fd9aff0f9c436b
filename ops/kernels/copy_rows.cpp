#include "tapegrad/ops/kernels/copy_rows.h"

#include <algorithm>
#include <cstring>

#include "tapegrad/core/threading.h"

namespace tg::kernels {

void copy_rows(std::byte* dst, const std::byte* src, std::size_t block_bytes, std::int64_t count,
               const std::function<std::int64_t(std::int64_t)>& source_block) {
  if (count <= 0 || block_bytes == 0) return;
  const auto copy = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      std::memcpy(dst + static_cast<std::size_t>(i) * block_bytes,
                  src + static_cast<std::size_t>(source_block(i)) * block_bytes, block_bytes);
  };
  const std::size_t total = block_bytes * static_cast<std::size_t>(count);
  const std::int64_t threads = get_num_threads();
  if (total < kParallelCopyBytes || threads <= 1) {
    copy(0, count);
    return;
  }
  // A copy has no reduction, so the cut may follow the thread count: one even part each.
  detail::parallel_for(count, (count + threads - 1) / threads, copy);
}

}  // namespace tg::kernels
