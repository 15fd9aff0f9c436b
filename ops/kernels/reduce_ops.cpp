// The reductions beyond sum: prod, max/min (with indices), logsumexp, cumsum. One engine walks
// the blocks of x that each output element reduces, in a fixed order, so results never depend
// on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tapegrad/core/detail/iterate.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/kernels/reduce.h"
#include "tapegrad/ops/kernels/vec_math.h"

namespace tg::kernels {
namespace {

template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

struct ReducePlan {
  Shape kept_shape, kept_strides;  // the output's dims
  Shape red_shape, red_strides;    // reduced dims in row-major order, adjacent ones merged
  std::int64_t outer = 1, inner = 1;
  // x is contiguous and the reduced dims are its leading ones: element (i, r) of block r sits
  // at i * outer + r, so whole rows can be walked at once (column reductions).
  bool leading = false;
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
  p.leading = x.is_contiguous() && !dims.empty() && dims.back() == std::ssize(dims) - 1 &&
              std::ssize(dims) < x.dim() && p.outer > 1;
  return p;
}

// Runs reducer R over every block r: State s = red.init(); red.step(s, value, i, r) for each
// element of the block in row-major order (i = 0, 1, ...); red.finish(r, s).
template <typename T, typename R>
void reduce_blocks(const ReducePlan& p, const T* base, const R& red) {
  using State = typename R::State;
  if (p.leading) {
    // Column blocks in parallel; each walks the reduced rows in order (cache friendly).
    const std::int64_t grain =
        std::max<std::int64_t>(64, detail::kElementwiseGrain / std::max<std::int64_t>(p.inner, 1));
    detail::parallel_for(p.outer, grain, [&](std::int64_t c0, std::int64_t c1) {
      std::vector<State> st(static_cast<std::size_t>(c1 - c0), red.init());
      for (std::int64_t i = 0; i < p.inner; ++i) {
        const T* q = base + i * p.outer + c0;
        for (std::int64_t c = 0; c < c1 - c0; ++c) red.step(st[c], q[c], i, c0 + c);
      }
      for (std::int64_t c = c0; c < c1; ++c) red.finish(c, st[c - c0]);
    });
    return;
  }
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
      State s = red.init();
      if (p.inner > 0) {
        std::fill(ridx.begin(), ridx.end(), 0);
        std::int64_t roff = 0, i = 0;
        while (true) {
          const T* q = base + off + roff;
          for (std::int64_t j = 0; j < run; ++j) red.step(s, q[j * run_stride], i++, r);
          std::int64_t d = nred - 2;
          for (; d >= 0; --d) {  // odometer over the outer reduced dims
            roff += p.red_strides[d];
            if (++ridx[d] < p.red_shape[d]) break;
            roff -= p.red_strides[d] * p.red_shape[d];
            ridx[d] = 0;
          }
          if (d < 0) break;
        }
      }
      red.finish(r, s);
    }
  });
}

void check_nonempty(std::string_view op, const Tensor& x, const ReducePlan& p) {
  TG_CHECK(p.inner > 0, op, ": cannot reduce over an empty dimension (input shape ",
           shape_str(x.shape()), "); the result would be undefined");
}

template <typename T, typename O>
struct ProdReducer {
  using State = Acc<T>;
  O* out;
  State init() const { return State(1); }
  void step(State& s, T v, std::int64_t, std::int64_t) const { s *= static_cast<State>(v); }
  void finish(std::int64_t r, State s) const { out[r] = static_cast<O>(s); }
};

// Once NaN, stays NaN: v > NaN and v < NaN are false.
template <typename T, bool kMax>
struct ExtremeReducer {
  struct State {
    T best;
    bool started;
  };
  T* out;
  State init() const { return {T{}, false}; }
  void step(State& s, T v, std::int64_t, std::int64_t) const {
    if (!s.started || is_nan(v) || (kMax ? v > s.best : v < s.best)) s.best = v;
    s.started = true;
  }
  void finish(std::int64_t r, const State& s) const { out[r] = s.best; }
};

// The first extreme (or the first NaN, like PyTorch) and its position in the block.
template <typename T, bool kMax>
struct ExtremeIndexReducer {
  struct State {
    T best;
    std::int64_t at;
  };
  T* out;
  std::int64_t* index;
  State init() const { return {T{}, -1}; }
  void step(State& s, T v, std::int64_t i, std::int64_t) const {
    if (s.at >= 0 && is_nan(s.best)) return;
    if (s.at < 0 || is_nan(v) || (kMax ? v > s.best : v < s.best)) s = {v, i};
  }
  void finish(std::int64_t r, const State& s) const {
    out[r] = s.best;
    index[r] = s.at;
  }
};

// Sum of squared deviations from each block's mean (given), divided by N - correction. With
// the mean known first, this second pass has no cancellation and no division per element.
template <typename T>
struct VarReducer {
  using State = double;
  T* out;
  const T* mean;
  double denom;
  State init() const { return 0.0; }
  void step(State& s, T v, std::int64_t, std::int64_t r) const {
    const double d = static_cast<double>(v) - static_cast<double>(mean[r]);
    s += d * d;
  }
  void finish(std::int64_t r, State s) const { out[r] = static_cast<T>(s / denom); }
};

}  // namespace

Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, double correction,
           bool keepdim) {
  Tensor out = empty(reduced_shape(x, dims, keepdim), x.dtype());
  const ReducePlan p = make_reduce_plan(x, dims);
  std::int64_t count = 1;
  for (auto d : dims) count *= x.shape()[d];
  const Tensor total = sum(x, dims, keepdim);  // same layout as out: index r matches
  dispatch_floating(x.dtype(), "var", [&]<typename T>() {
    const Tensor m = unary_floating("var", total, [count](T v) {
      return static_cast<T>(static_cast<double>(v) / static_cast<double>(count));
    });
    const double denom = std::max(0.0, static_cast<double>(count) - correction);
    reduce_blocks(p, x.data_ptr<T>(), VarReducer<T>{out.data_ptr<T>(), m.data_ptr<T>(), denom});
  });
  return out;
}

Tensor prod(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Dtype out_dtype = x.is_floating_point() ? x.dtype() : kInt64;
  Tensor out = empty(reduced_shape(x, dims, keepdim), out_dtype);
  const ReducePlan p = make_reduce_plan(x, dims);
  dispatch(x.dtype(), [&]<typename T>() {
    dispatch(out_dtype, [&]<typename O>() {
      reduce_blocks(p, x.data_ptr<T>(), ProdReducer<T, O>{out.data_ptr<O>()});
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
    if (is_max)
      reduce_blocks(p, x.data_ptr<T>(), ExtremeReducer<T, true>{out.data_ptr<T>()});
    else
      reduce_blocks(p, x.data_ptr<T>(), ExtremeReducer<T, false>{out.data_ptr<T>()});
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
    if (is_max)
      reduce_blocks(p, x.data_ptr<T>(), ExtremeIndexReducer<T, true>{o, oi});
    else
      reduce_blocks(p, x.data_ptr<T>(), ExtremeIndexReducer<T, false>{o, oi});
  });
  return res;
}

Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Shape out_shape = reduced_shape(x, dims, keepdim);
  std::int64_t count = 1;
  for (auto d : dims) count *= x.shape()[d];
  if (count == 0) return full(out_shape, -std::numeric_limits<double>::infinity(), x.dtype());
  // log(sum(exp(x - m))) + m with m the block max, so exp never overflows. An infinite max is
  // the answer itself (or -inf for all -inf): shift by 0 there instead; NaN propagates.
  const ReducePlan p = make_reduce_plan(x, dims);
  if (x.is_contiguous() && p.red_shape.size() == 1 && p.red_strides[0] == 1) {
    // Rows: per block, the max, then e^(x - max) into a buffer (a vectorized loop) summed in
    // order in double.
    Tensor out = empty(out_shape, x.dtype());
    dispatch_floating(x.dtype(), "logsumexp", [&]<typename T>() {
      const T* xb = x.data_ptr<T>();
      T* o = out.data_ptr<T>();
      const std::int64_t n = p.inner;
      const std::int64_t grain = std::max<std::int64_t>(1, detail::kElementwiseGrain / n);
      detail::parallel_for(p.outer, grain, [&](std::int64_t r0, std::int64_t r1) {
        std::vector<T> buf(static_cast<std::size_t>(n));
        for (std::int64_t r = r0; r < r1; ++r) {
          const T* q = xb + r * n;
          T m = q[0];
          for (std::int64_t j = 1; j < n; ++j) m = (q[j] > m || is_nan(q[j])) ? q[j] : m;
          if (is_nan(m)) {
            o[r] = m;
            continue;
          }
          const T shift = std::isinf(m) ? T(0) : m;
          for (std::int64_t j = 0; j < n; ++j) buf[j] = vec::exp(static_cast<T>(q[j] - shift));
          double s = 0;
          for (std::int64_t j = 0; j < n; ++j) s += static_cast<double>(buf[j]);
          o[r] = static_cast<T>(std::log(s) + static_cast<double>(shift));
        }
      });
    });
    return out;
  }
  const Tensor m = extreme("logsumexp", x, dims, /*keepdim=*/true, /*is_max=*/true);
  Tensor out;
  dispatch_floating(x.dtype(), "logsumexp", [&]<typename T>() {
    const Tensor shift =
        unary_floating("logsumexp", m, [](T v) { return std::isinf(v) ? T(0) : v; });
    const Tensor e = binary_in("logsumexp", x, shift, x.dtype(),
                               [](T v, T s) { return vec::exp(static_cast<T>(v - s)); });
    const Tensor total = sum(e, dims, /*keepdim=*/true);
    out = binary_in("logsumexp", total, shift, x.dtype(),
                    [](T s, T k) { return static_cast<T>(std::log(s) + k); });
  });
  return out.view(out_shape);
}

Tensor cumsum(const Tensor& x, std::int64_t dim, bool reverse) {
  const Dtype out_dtype = x.is_floating_point() ? x.dtype() : kInt64;
  Tensor out = empty(x.shape(), out_dtype);
  if (x.numel() == 0) return out;
  // As [outer, n, inner] (contiguous): each task runs n steps over a block of `inner` columns,
  // so the inner loop is unit-stride whatever dim is scanned.
  const Tensor xc = x.is_contiguous() ? x : x.detach().contiguous();
  std::int64_t outer = 1, inner = 1;
  const std::int64_t n = x.dim() == 0 ? 1 : x.shape()[dim];
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.shape()[d];
    if (d > dim) inner *= x.shape()[d];
  }
  constexpr std::int64_t kBlock = 256;
  const std::int64_t width = std::min(inner, kBlock);
  const std::int64_t blocks = (inner + width - 1) / width;
  dispatch(x.dtype(), [&]<typename T>() {
    using A = Acc<T>;
    dispatch(out_dtype, [&]<typename O>() {
      const T* xb = xc.data_ptr<T>();
      O* ob = out.data_ptr<O>();
      const std::int64_t grain = std::max<std::int64_t>(1, detail::kElementwiseGrain / (n * width));
      if (inner == 1) {  // scanning the last dim: one plain running sum per line
        detail::parallel_for(outer, grain, [&](std::int64_t l0, std::int64_t l1) {
          for (std::int64_t l = l0; l < l1; ++l) {
            A acc = 0;
            for (std::int64_t jj = 0; jj < n; ++jj) {
              const std::int64_t j = l * n + (reverse ? n - 1 - jj : jj);
              acc += static_cast<A>(xb[j]);
              ob[j] = static_cast<O>(acc);
            }
          }
        });
        return;
      }
      detail::parallel_for(outer * blocks, grain, [&](std::int64_t t0, std::int64_t t1) {
        std::vector<A> acc(static_cast<std::size_t>(width));
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t o = t / blocks, c0 = (t % blocks) * width;
          const std::int64_t cn = std::min(width, inner - c0);
          std::fill(acc.begin(), acc.end(), A(0));
          for (std::int64_t jj = 0; jj < n; ++jj) {
            const std::int64_t j = reverse ? n - 1 - jj : jj;
            const std::int64_t off = (o * n + j) * inner + c0;
            for (std::int64_t c = 0; c < cn; ++c) {
              acc[c] += static_cast<A>(xb[off + c]);
              ob[off + c] = static_cast<O>(acc[c]);
            }
          }
        }
      });
    });
  });
  return out;
}

namespace {
template <typename Pred>
bool any_of(const Tensor& x, Pred pred) {
  bool found = false;
  dispatch(x.dtype(), [&]<typename T>() {
    const Tensor flat = x.is_contiguous() ? x : x.detach().contiguous();
    const T* p = flat.data_ptr<T>();
    for (std::int64_t i = 0; i < flat.numel() && !found; ++i) found = pred(p[i]);
  });
  return found;
}
}  // namespace

bool any_zero(const Tensor& x) {
  return any_of(x, [](auto v) { return v == decltype(v)(0); });
}
bool any_true(const Tensor& x) {
  return any_of(x, [](auto v) { return v != decltype(v)(0); });
}

}  // namespace tg::kernels
