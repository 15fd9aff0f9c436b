#pragma once
// Kernels that work along one dim ("rows"): a contiguous tensor is viewed as [outer, n, inner],
// and row r (r in [0, outer * inner)) is the n elements starting at base(r) with stride inner.
// softmax, log_softmax and the fused cross entropy are built on it.
#include <algorithm>
#include <cstdint>

#include "tapegrad/core/tensor.h"
#include "tapegrad/core/threading.h"

namespace tg::kernels {

struct Rows {
  std::int64_t outer = 1, n = 1, inner = 1;
  std::int64_t count() const { return outer * inner; }
  std::int64_t base(std::int64_t r) const { return (r / inner) * n * inner + r % inner; }
};

// The row layout of a contiguous tensor of `shape` along `dim` (already wrapped).
inline Rows rows_along(const Shape& shape, std::int64_t dim) {
  Rows r;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(shape.size()); ++d) {
    if (d < dim)
      r.outer *= shape[d];
    else if (d == dim)
      r.n = shape[d];
    else
      r.inner *= shape[d];
  }
  return r;
}

// Calls f(row) for every row, rows split over threads so each task touches enough elements.
template <typename F>
void for_each_row(const Rows& rows, F&& f) {
  const std::int64_t grain =
      std::max<std::int64_t>(1, detail::kElementwiseGrain / std::max<std::int64_t>(rows.n, 1));
  detail::parallel_for(rows.count(), grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) f(r);
  });
}

// softmax (or log_softmax) of x along dim, computed with the row maximum subtracted so that no
// exp overflows. Returns a new contiguous tensor; records nothing.
Tensor softmax(const Tensor& x, std::int64_t dim, bool log);

}  // namespace tg::kernels
