// sort / argsort / topk: one kernel sorts (or partially sorts) each line along dim as
// (value, index) pairs with a NaN-aware order and the index as tie-break, so the result is
// stable and deterministic whatever the thread count. The backward scatters the gradient to
// the saved indices with scatter_add (its own gradient is gather: double backward works).
#include "tapegrad/ops/sort.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/error.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/indexing.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

// Strict "a comes before b" for ascending (descending = false) or descending order, NaN as the
// largest value, equal values by index.
template <typename T>
struct LineOrder {
  bool descending;
  bool operator()(const std::pair<T, std::int64_t>& a, const std::pair<T, std::int64_t>& b) const {
    const bool an = is_nan(a.first), bn = is_nan(b.first);
    if (an || bn) {
      if (an && bn) return a.second < b.second;
      return descending ? an : bn;  // NaN first when descending, last when ascending
    }
    if (a.first != b.first) return descending ? a.first > b.first : a.first < b.first;
    return a.second < b.second;
  }
};

// The first k entries of each line along `dim` in `descending` order: values and indices of
// shape x.shape with size k at dim.
ValuesIndices select_lines(const char* op, const Tensor& x, std::int64_t dim, std::int64_t k,
                           bool descending) {
  const Tensor xc = x.detach().contiguous();
  const Shape& shape = xc.shape();
  const std::int64_t n = shape.empty() ? 1 : shape[dim];
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (std::int64_t d = dim + 1; d < static_cast<std::int64_t>(shape.size()); ++d)
    inner *= shape[d];
  Shape out_shape = shape;
  if (!out_shape.empty()) out_shape[dim] = k;
  Tensor values = empty(out_shape, x.dtype());
  Tensor indices = empty(out_shape, kInt64);
  dispatch(x.dtype(), [&]<typename T>() {
    const T* src = xc.data_ptr<T>();
    T* vals = values.data_ptr<T>();
    std::int64_t* idx = indices.data_ptr<std::int64_t>();
    const std::int64_t lines = outer * inner;
    const std::int64_t grain = std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1));
    detail::parallel_for(lines, grain, [&](std::int64_t l0, std::int64_t l1) {
      std::vector<std::pair<T, std::int64_t>> line(static_cast<std::size_t>(n));
      const LineOrder<T> order{descending};
      for (std::int64_t l = l0; l < l1; ++l) {
        const std::int64_t o = l / inner, i = l % inner;
        const T* in = src + o * n * inner + i;
        for (std::int64_t j = 0; j < n; ++j) line[j] = {in[j * inner], j};
        if (k == n)
          std::sort(line.begin(), line.end(), order);  // the index tie-break makes it stable
        else
          std::partial_sort(line.begin(), line.begin() + k, line.end(), order);
        T* vo = vals + o * k * inner + i;
        std::int64_t* io = idx + o * k * inner + i;
        for (std::int64_t j = 0; j < k; ++j) {
          vo[j * inner] = line[j].first;
          io[j * inner] = line[j].second;
        }
      }
    });
  });
  const Shape in_shape = x.shape();
  const std::int64_t sdim = shape.empty() ? 0 : dim;
  Tensor v = record(op, {x}, values, {indices}, [in_shape, sdim](const Tensor& g, const Saved& s) {
    if (in_shape.empty()) return grads{g};
    return grads{scatter_add(zeros(in_shape, g.dtype()), sdim, s[0], g)};
  });
  return {v, indices};
}

std::int64_t line_dim(const char* op, const Tensor& x, std::int64_t dim) {
  TG_CHECK(x.defined(), op, ": input is undefined");
  return wrap_dim(op, dim, std::max<std::int64_t>(x.dim(), 1));
}

}  // namespace

ValuesIndices sort(const Tensor& x, std::int64_t dim, bool descending, bool /*stable*/) {
  const std::int64_t d = line_dim("sort", x, dim);
  return select_lines("sort", x, d, x.dim() == 0 ? 1 : x.size(d), descending);
}

Tensor argsort(const Tensor& x, std::int64_t dim, bool descending, bool stable) {
  NoGradGuard no_grad;  // only the indices are wanted
  return sort(x, dim, descending, stable).indices;
}

ValuesIndices topk(const Tensor& x, std::int64_t k, std::int64_t dim, bool largest,
                   bool /*sorted*/) {
  const std::int64_t d = line_dim("topk", x, dim);
  const std::int64_t n = x.dim() == 0 ? 1 : x.size(d);
  TG_CHECK(k >= 0 && k <= n, "topk: k (", k, ") out of range for dim ", dim, " of size ", n,
           " (shape ", shape_str(x.shape()), ")");
  return select_lines("topk", x, d, k, largest);
}

}  // namespace tg
