#include "tapegrad/ops/kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tapegrad/core/iterate.h"
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

// ---- the generic reduction engine: every output element reduces one block of x ----
namespace tg::kernels {
namespace {

struct ReducePlan {
  Shape kept_shape, kept_strides;  // the output's dims
  Shape red_shape, red_strides;    // reduced dims in row-major order, adjacent ones merged
  std::int64_t outer = 1, inner = 1;
};

ReducePlan make_reduce_plan(const Tensor& x, const std::vector<std::int64_t>& dims) {
  ReducePlan p;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    const auto n = x.shape()[d], s = x.strides()[d];
    if (!reduced) {
      p.kept_shape.push_back(n);
      p.kept_strides.push_back(s);
    } else if (!p.red_shape.empty() && p.red_strides.back() == s * n &&
               std::binary_search(dims.begin(), dims.end(), d - 1)) {
      p.red_shape.back() *= n;  // contiguous with the previous reduced dim: one longer run
      p.red_strides.back() = s;
    } else {
      p.red_shape.push_back(n);
      p.red_strides.push_back(s);
    }
  }
  p.outer = numel_of(p.kept_shape);
  p.inner = numel_of(p.red_shape);
  if (p.red_shape.empty()) {  // nothing reduced: each block is one element
    p.red_shape.push_back(1);
    p.red_strides.push_back(0);
  }
  return p;
}

// Calls f(r, visit) for every output r in parallel, where visit(g) calls g(value, i) for each
// element of r's block in row-major order (i = 0, 1, ...). f may visit more than once.
template <typename T, typename F>
void for_each_block(const ReducePlan& p, const T* base, F&& f) {
  const auto nred = static_cast<std::int64_t>(p.red_shape.size());
  const std::int64_t run = p.red_shape.back(), run_stride = p.red_strides.back();
  const std::int64_t grain =
      std::max<std::int64_t>(1, detail::kElementwiseGrain / std::max<std::int64_t>(p.inner, 1));
  detail::parallel_for(p.outer, grain, [&](std::int64_t r0, std::int64_t r1) {
    Shape ridx(static_cast<std::size_t>(nred));
    for (std::int64_t r = r0; r < r1; ++r) {
      std::int64_t rem = r, off = 0;
      for (auto d = static_cast<std::int64_t>(p.kept_shape.size()) - 1; d >= 0; --d) {
        off += (rem % p.kept_shape[d]) * p.kept_strides[d];
        rem /= p.kept_shape[d];
      }
      auto visit = [&](auto&& g) {
        if (p.inner == 0) return;
        std::fill(ridx.begin(), ridx.end(), 0);
        std::int64_t roff = 0, i = 0;
        while (true) {
          const T* q = base + off + roff;
          for (std::int64_t j = 0; j < run; ++j) g(q[j * run_stride], i++);
          std::int64_t d = nred - 2;
          for (; d >= 0; --d) {
            roff += p.red_strides[d];
            if (++ridx[d] < p.red_shape[d]) break;
            roff -= p.red_strides[d] * p.red_shape[d];
            ridx[d] = 0;
          }
          if (d < 0) break;
        }
      };
      f(r, visit);
    }
  });
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

void check_nonempty(std::string_view op, const Tensor& x, const ReducePlan& p) {
  TG_CHECK(p.inner > 0, op, ": cannot reduce over an empty dimension (input shape ",
           shape_str(x.shape()), "); the result would be undefined");
}

}  // namespace

Tensor prod(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Dtype out_dtype = x.is_floating_point() ? x.dtype() : kInt64;
  Tensor out = empty(reduced_shape(x, dims, keepdim), out_dtype);
  const ReducePlan p = make_reduce_plan(x, dims);
  dispatch(x.dtype(), [&]<typename T>() {
    using A = Acc<T>;
    dispatch(out_dtype, [&]<typename O>() {
      O* o = out.data_ptr<O>();
      for_each_block(p, x.data_ptr<T>(), [&](std::int64_t r, auto&& visit) {
        A acc = 1;
        visit([&](T v, std::int64_t) { acc *= static_cast<A>(v); });
        o[r] = static_cast<O>(acc);
      });
    });
  });
  return out;
}

Tensor extreme(std::string_view op, const Tensor& x, const std::vector<std::int64_t>& dims,
               bool keepdim, bool is_max) {
  Tensor out = empty(reduced_shape(x, dims, keepdim), x.dtype());
  const ReducePlan p = make_reduce_plan(x, dims);
  check_nonempty(op, x, p);
  dispatch(x.dtype(), [&]<typename T>() {
    T* o = out.data_ptr<T>();
    for_each_block(p, x.data_ptr<T>(), [&](std::int64_t r, auto&& visit) {
      bool first = true;
      T best{};
      visit([&](T v, std::int64_t) {
        // Once NaN, stays NaN: v > NaN and v < NaN are false.
        if (first || is_nan(v) || (is_max ? v > best : v < best)) best = v;
        first = false;
      });
      o[r] = best;
    });
  });
  return out;
}

ExtremeResult extreme_with_index(std::string_view op, const Tensor& x,
                                 const std::vector<std::int64_t>& dims, bool keepdim, bool is_max) {
  const Shape shape = reduced_shape(x, dims, keepdim);
  ExtremeResult res{empty(shape, x.dtype()), empty(shape, kInt64)};
  const ReducePlan p = make_reduce_plan(x, dims);
  check_nonempty(op, x, p);
  dispatch(x.dtype(), [&]<typename T>() {
    T* o = res.values.data_ptr<T>();
    std::int64_t* oi = res.indices.data_ptr<std::int64_t>();
    for_each_block(p, x.data_ptr<T>(), [&](std::int64_t r, auto&& visit) {
      T best{};
      std::int64_t at = -1;
      bool nan = false;
      visit([&](T v, std::int64_t i) {
        if (nan) return;  // the first NaN wins, like PyTorch
        if (at < 0 || is_nan(v) || (is_max ? v > best : v < best)) {
          best = v;
          at = i;
          nan = is_nan(v);
        }
      });
      o[r] = best;
      oi[r] = at;
    });
  });
  return res;
}

Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor out = empty(reduced_shape(x, dims, keepdim), x.dtype());
  const ReducePlan p = make_reduce_plan(x, dims);
  dispatch_floating(x.dtype(), "logsumexp", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    for_each_block(p, x.data_ptr<T>(), [&](std::int64_t r, auto&& visit) {
      T m = -std::numeric_limits<T>::infinity();
      visit([&](T v, std::int64_t) { m = (v > m || std::isnan(v)) ? v : m; });
      if (std::isnan(m)) {
        o[r] = m;
        return;
      }
      // An infinite max is the answer itself (or -inf for all -inf): shift by 0 instead.
      const T shift = std::isinf(m) ? T(0) : m;
      double s = 0;
      visit([&](T v, std::int64_t) { s += static_cast<double>(std::exp(v - shift)); });
      o[r] = static_cast<T>(std::log(s) + static_cast<double>(shift));
    });
  });
  return out;
}

Tensor cumsum(const Tensor& x, std::int64_t dim, bool reverse) {
  const Dtype out_dtype = x.is_floating_point() ? x.dtype() : kInt64;
  Tensor out = empty(x.shape(), out_dtype);
  if (x.numel() == 0) return out;
  const std::int64_t nd = x.dim();
  const std::int64_t n = nd == 0 ? 1 : x.shape()[dim];
  const std::int64_t sx = nd == 0 ? 0 : x.strides()[dim], so = nd == 0 ? 0 : out.strides()[dim];
  Shape kept, kx, ko;
  for (std::int64_t d = 0; d < nd; ++d) {
    if (d == dim) continue;
    kept.push_back(x.shape()[d]);
    kx.push_back(x.strides()[d]);
    ko.push_back(out.strides()[d]);
  }
  const std::int64_t lines = numel_of(kept);
  dispatch(x.dtype(), [&]<typename T>() {
    using A = Acc<T>;
    dispatch(out_dtype, [&]<typename O>() {
      const T* xb = x.data_ptr<T>();
      O* ob = out.data_ptr<O>();
      const std::int64_t grain = std::max<std::int64_t>(1, detail::kElementwiseGrain / n);
      detail::parallel_for(lines, grain, [&](std::int64_t l0, std::int64_t l1) {
        for (std::int64_t l = l0; l < l1; ++l) {
          std::int64_t rem = l, offx = 0, offo = 0;
          for (auto d = static_cast<std::int64_t>(kept.size()) - 1; d >= 0; --d) {
            offx += (rem % kept[d]) * kx[d];
            offo += (rem % kept[d]) * ko[d];
            rem /= kept[d];
          }
          A acc = 0;
          for (std::int64_t j = 0; j < n; ++j) {
            const std::int64_t k = reverse ? n - 1 - j : j;
            acc += static_cast<A>(xb[offx + k * sx]);
            ob[offo + k * so] = static_cast<O>(acc);
          }
        }
      });
    });
  });
  return out;
}

bool any_zero(const Tensor& x) {
  bool found = false;
  dispatch(x.dtype(), [&]<typename T>() {
    const Tensor flat = x.is_contiguous() ? x : x.detach().contiguous();
    const T* p = flat.data_ptr<T>();
    for (std::int64_t i = 0; i < flat.numel() && !found; ++i) found = p[i] == T(0);
  });
  return found;
}

}  // namespace tg::kernels
