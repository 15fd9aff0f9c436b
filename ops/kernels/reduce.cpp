#include "tapegrad/ops/kernels/reduce.h"

#include <algorithm>

#include "tapegrad/core/detail/iterate.h"
#include "tapegrad/core/threading.h"

namespace tg::kernels {

std::vector<std::int64_t> reduce_dims(std::string_view op, const Tensor& x, const Shape& dims) {
  std::vector<std::int64_t> out;
  if (dims.empty()) {
    for (std::int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (auto d : dims) out.push_back(wrap_dim(op, d, x.dim()));
  std::sort(out.begin(), out.end());
  TG_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dim repeats in ",
           shape_str(dims));
  if (x.dim() == 0) out.clear();
  return out;
}

Shape reduced_shape(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Shape out;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced)
      out.push_back(x.shape()[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

namespace {
template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
}

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Dtype out_dtype = x.is_floating_point() ? x.dtype() : kInt64;
  Tensor out = empty(reduced_shape(x, dims, keepdim), out_dtype);
  // Order: kept dims first, reduced dims last.
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    (reduced ? red_shape : kept_shape).push_back(x.shape()[d]);
    (reduced ? red_strides : kept_strides).push_back(x.strides()[d]);
  }
  const std::int64_t outer = numel_of(kept_shape), inner = numel_of(red_shape);
  dispatch(x.dtype(), [&]<typename T>() {
    using A = Acc<T>;
    dispatch(out_dtype, [&]<typename O>() {
      O* o = out.data_ptr<O>();
      const T* base = x.data_ptr<T>();
      // Fast case: x contiguous and the reduced dims are the trailing ones (row sums).
      const bool rows =
          x.is_contiguous() &&
          (dims.empty() || dims.front() == x.dim() - static_cast<std::int64_t>(dims.size()));
      // Fast case: x contiguous and the reduced dims are the leading ones (column sums).
      bool cols = x.is_contiguous() && !dims.empty() && !rows;
      for (std::size_t i = 0; cols && i < dims.size(); ++i)
        cols = dims[i] == static_cast<std::int64_t>(i);
      if (rows) {
        const std::int64_t grain =
            std::max<std::int64_t>(1, detail::kElementwiseGrain / std::max<std::int64_t>(inner, 1));
        if (outer == 1) {
          // One long run: fixed-size blocks summed in parallel, then added in order.
          constexpr std::int64_t kBlock = 16384;
          const std::int64_t blocks = (inner + kBlock - 1) / kBlock;
          std::vector<A> partial(static_cast<std::size_t>(std::max<std::int64_t>(blocks, 1)), A(0));
          detail::parallel_for(blocks, 8, [&](std::int64_t b0, std::int64_t b1) {
            for (std::int64_t b = b0; b < b1; ++b) {
              A acc = 0;
              const T* p = base + b * kBlock;
              const std::int64_t n = std::min(kBlock, inner - b * kBlock);
              for (std::int64_t i = 0; i < n; ++i) acc += static_cast<A>(p[i]);
              partial[b] = acc;
            }
          });
          A total = 0;
          for (A v : partial) total += v;
          o[0] = static_cast<O>(total);
          return;
        }
        detail::parallel_for(outer, grain, [&](std::int64_t r0, std::int64_t r1) {
          for (std::int64_t r = r0; r < r1; ++r) {
            const T* p = base + r * inner;
            A acc = 0;
            for (std::int64_t i = 0; i < inner; ++i) acc += static_cast<A>(p[i]);
            o[r] = static_cast<O>(acc);
          }
        });
        return;
      }
      if (cols) {
        // Add rows into the output, column blocks in parallel: vectorizable, cache friendly.
        const std::int64_t grain = std::max<std::int64_t>(
            64, detail::kElementwiseGrain / std::max<std::int64_t>(inner, 1));
        detail::parallel_for(outer, grain, [&](std::int64_t c0, std::int64_t c1) {
          std::vector<A> acc(static_cast<std::size_t>(c1 - c0), A(0));
          for (std::int64_t r = 0; r < inner; ++r) {
            const T* p = base + r * outer + c0;
            for (std::int64_t c = 0; c < c1 - c0; ++c) acc[c] += static_cast<A>(p[c]);
          }
          for (std::int64_t c = c0; c < c1; ++c) o[c] = static_cast<O>(acc[c - c0]);
        });
        return;
      }
      // General strided case.
      const std::int64_t grain =
          std::max<std::int64_t>(1, detail::kElementwiseGrain / std::max<std::int64_t>(inner, 1));
      detail::parallel_for(outer, grain, [&](std::int64_t r0, std::int64_t r1) {
        Shape kidx(kept_shape.size()), ridx(red_shape.size());
        for (std::int64_t r = r0; r < r1; ++r) {
          std::int64_t rem = r, off = 0;
          for (auto d = static_cast<std::int64_t>(kept_shape.size()) - 1; d >= 0; --d) {
            off += (rem % kept_shape[d]) * kept_strides[d];
            rem /= kept_shape[d];
          }
          A acc = 0;
          std::fill(ridx.begin(), ridx.end(), 0);
          std::int64_t roff = 0;
          for (std::int64_t i = 0; i < inner; ++i) {
            acc += static_cast<A>(base[off + roff]);
            for (auto d = static_cast<std::int64_t>(red_shape.size()) - 1; d >= 0; --d) {
              roff += red_strides[d];
              if (++ridx[d] < red_shape[d]) break;
              roff -= red_strides[d] * red_shape[d];
              ridx[d] = 0;
            }
          }
          o[r] = static_cast<O>(acc);
        }
      });
    });
  });
  return out;
}

}  // namespace tg::kernels
