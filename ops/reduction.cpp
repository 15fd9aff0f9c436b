// Reductions. Backward of a sum broadcasts the gradient back over the reduced dims.
#include "tapegrad/ops/reduction.h"

#include <algorithm>
#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/comparison.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/kernels/reduce.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {
// g has the reduced shape; give it back the reduced dims as size 1, then expand to `shape`.
Tensor expand_back(const Tensor& g, const Shape& shape, const std::vector<std::int64_t>& dims,
                   bool keepdim) {
  Tensor h = g;
  if (!keepdim)
    for (auto d : dims) h = unsqueeze(h, d);
  return expand(h, shape);
}
}  // namespace

Tensor sum(const Tensor& x, const Shape& dims_in, bool keepdim) {
  const auto dims = kernels::reduce_dims("sum", x, dims_in);
  Tensor y = kernels::sum(x, dims, keepdim);
  const Shape shape = x.shape();
  return record("sum", {x}, y, [=](const Tensor& g, const Saved&) {
    return grads{expand_back(g, shape, dims, keepdim)};
  });
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const Shape& dims_in, bool keepdim) {
  TG_CHECK(x.is_floating_point(), "mean: expected a floating-point tensor, got dtype ", x.dtype());
  const auto dims = kernels::reduce_dims("mean", x, dims_in);
  std::int64_t count = 1;
  for (auto d : dims) count *= x.shape()[d];
  return sum(x, dims_in, keepdim) / static_cast<double>(count);
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const auto lead = x.dim() - static_cast<std::int64_t>(shape.size());
  TG_CHECK(lead >= 0, "sum_to: cannot reduce shape ", shape_str(x.shape()), " to ",
           shape_str(shape));
  Shape dims;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const auto want = shape[d - lead];
    TG_CHECK(want == x.shape()[d] || want == 1, "sum_to: cannot reduce shape ",
             shape_str(x.shape()), " to ", shape_str(shape));
    if (want == 1 && x.shape()[d] != 1) dims.push_back(d);
  }
  Tensor r = dims.empty() ? x : sum(x, dims, true);
  return reshape(r, shape);
}

// ---- prod ----

Tensor prod(const Tensor& x, const Shape& dims_in, bool keepdim) {
  const auto dims = kernels::reduce_dims("prod", x, dims_in);
  Tensor y = kernels::prod(x, dims, keepdim);
  const Shape shape = x.shape();
  return record("prod", {x}, y, {x, y}, [=](const Tensor& g, const Saved& s) {
    const Tensor xs = s[0];
    const Tensor ys = expand_back(s[1], shape, dims, keepdim);
    const Tensor gs = expand_back(g, shape, dims, keepdim);
    if (!kernels::any_zero(xs)) return grads{gs * ys / xs};
    // With zeros, d/dx_i = product of the others: for a zero entry that is the product of the
    // non-zeros when it is the block's only zero (else 0); for a non-zero entry it is y / x_i,
    // which is 0 but keeps y's dependence on the zero entries for double backward.
    const Tensor zero = xs == 0.0;
    const Tensor nonzero = where(zero, 1.0, xs);
    const Tensor only_zero = sum(zero, dims, true) == 1.0;
    const Tensor others = where(only_zero, prod(nonzero, dims, true), 0.0);
    return grads{gs * where(zero, others, ys / nonzero)};
  });
}

Tensor prod(const Tensor& x) { return prod(x, {}, false); }

// ---- max / min ----

namespace {
// nan_aware (max() and min() over everything, PyTorch's evenly_distribute_backward): when the
// result is NaN the gradient is shared by the NaN elements. amax/amin (PyTorch's
// scale_grad_by_count) share it among the elements equal to the result, so a NaN block gets NaN.
Tensor extreme_values(const Tensor& x, const Shape& dims_in, bool keepdim, bool is_max,
                      bool nan_aware) {
  const char* op = is_max ? "amax" : "amin";
  const auto dims = kernels::reduce_dims(op, x, dims_in);
  Tensor y = kernels::extreme(op, x, dims, keepdim, is_max);
  const Shape shape = x.shape();
  // Every element equal to the extreme gets an equal share of the gradient. The share is a
  // constant: the selection is piecewise constant in x.
  auto backward = [=](const Tensor& g, const Saved& s) {
    Tensor share;
    {
      NoGradGuard no_grad;
      const Tensor best = expand_back(s[1], shape, dims, keepdim);
      Tensor hit = s[0] == best;
      if (nan_aware) {
        auto is_nan = [](auto v) { return v != v; };
        hit = where(kernels::predicate(best, is_nan), kernels::predicate(s[0], is_nan), hit);
      }
      hit = hit.to(g.dtype());
      share = hit / sum(hit, dims, true);
    }
    return grads{expand_back(g, shape, dims, keepdim) * share};
  };
  return is_max ? record("amax", {x}, y, {x, y}, backward)
                : record("amin", {x}, y, {x, y}, backward);
}

ValuesIndices extreme_along(const Tensor& x, std::int64_t dim_in, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  const std::int64_t dim = wrap_dim(op, dim_in, x.dim());
  const std::vector<std::int64_t> dims =
      x.dim() == 0 ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{dim};
  auto [values, indices] = kernels::extreme_with_index(op, x, dims, keepdim, is_max);
  const Shape shape = x.shape();
  // The gradient goes to the selected index: a one-hot mask along dim (a constant).
  auto backward = [=](const Tensor& g, const Saved& s) {
    if (shape.empty()) return grads{g};
    Tensor pick;
    {
      NoGradGuard no_grad;
      Shape line(shape.size(), 1);
      line[dim] = shape[dim];
      const Tensor positions = arange(0.0, static_cast<double>(shape[dim]), 1.0, kInt64).view(line);
      pick = positions == expand_back(s[0], shape, dims, keepdim);
    }
    return grads{where(pick, expand_back(g, shape, dims, keepdim), 0.0)};
  };
  Tensor v = is_max ? record("max", {x}, values, {indices}, backward)
                    : record("min", {x}, values, {indices}, backward);
  return {v, indices};
}

Tensor arg_extreme(const Tensor& x, const Shape& dims, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  check_not_bool(x.dtype(), op);  // as PyTorch
  return kernels::extreme_with_index(op, x, kernels::reduce_dims(op, x, dims), keepdim, is_max)
      .indices;
}
}  // namespace

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme_values(x, dims, keepdim, true, false);
}
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme_values(x, dims, keepdim, false, false);
}
Tensor max(const Tensor& x) { return extreme_values(x, {}, false, true, true); }
Tensor min(const Tensor& x) { return extreme_values(x, {}, false, false, true); }
ValuesIndices max(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme_along(x, dim, keepdim, true);
}
ValuesIndices min(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme_along(x, dim, keepdim, false);
}

Tensor argmax(const Tensor& x) { return arg_extreme(x, {}, false, true); }
Tensor argmin(const Tensor& x) { return arg_extreme(x, {}, false, false); }
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extreme(x, {wrap_dim("argmax", dim, x.dim())}, keepdim, true);
}
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extreme(x, {wrap_dim("argmin", dim, x.dim())}, keepdim, false);
}

// ---- statistics ----

namespace {
// d var / dx = 2 (x - mean) / (N - correction), differentiable through mean for double
// backward. The raw N - correction, as PyTorch (N <= correction gives inf or NaN).
Tensor var_backward(const Tensor& g, const Tensor& x, const std::vector<std::int64_t>& dims,
                    double dof, bool keepdim) {
  return expand_back(g, x.shape(), dims, keepdim) * (x - mean(x, dims, true)) * (2.0 / dof);
}

double degrees_of_freedom(const Tensor& x, const std::vector<std::int64_t>& dims,
                          double correction) {
  std::int64_t count = 1;
  for (auto d : dims) count *= x.shape()[d];
  return static_cast<double>(count) - correction;
}
}  // namespace

Tensor var(const Tensor& x, const Shape& dims_in, double correction, bool keepdim) {
  TG_CHECK(x.is_floating_point(), "var: expected a floating-point tensor, got dtype ", x.dtype());
  const auto dims = kernels::reduce_dims("var", x, dims_in);
  const double dof = degrees_of_freedom(x, dims, correction);
  Tensor y = kernels::var(x, dims, correction, keepdim);
  return record("var", {x}, y, {x}, [=](const Tensor& g, const Saved& s) {
    return grads{var_backward(g, s[0], dims, dof, keepdim)};
  });
}

Tensor std(const Tensor& x, const Shape& dims_in, double correction, bool keepdim) {
  TG_CHECK(x.is_floating_point(), "std: expected a floating-point tensor, got dtype ", x.dtype());
  const auto dims = kernels::reduce_dims("std", x, dims_in);
  const double dof = degrees_of_freedom(x, dims, correction);
  Tensor y = kernels::unary_floating("std", kernels::var(x, dims, correction, keepdim),
                                     [](auto v) { return std::sqrt(v); });
  // d std = d var / (2 std), taken as 0 where std == 0 (all values equal: a subgradient, as
  // PyTorch's std_backward; sqrt's 1 / 0 would give 0 * inf = NaN).
  return record("std", {x}, y, {x, y}, [=](const Tensor& g, const Saved& s) {
    const Tensor sd = s[1];
    const Tensor gv = where(sd == 0.0, 0.0, g / (sd * 2.0));
    return grads{var_backward(gv, s[0], dims, dof, keepdim)};
  });
}

Tensor logsumexp(const Tensor& x, const Shape& dims_in, bool keepdim) {
  TG_CHECK(x.is_floating_point(), "logsumexp: expected a floating-point tensor, got dtype ",
           x.dtype());
  const auto dims = kernels::reduce_dims("logsumexp", x, dims_in);
  Tensor y = kernels::logsumexp(x, dims, keepdim);
  const Shape shape = x.shape();
  // d/dx = softmax(x) = exp(x - y).
  return record("logsumexp", {x}, y, {x, y}, [=](const Tensor& g, const Saved& s) {
    return grads{expand_back(g, shape, dims, keepdim) *
                 exp(s[0] - expand_back(s[1], shape, dims, keepdim))};
  });
}

namespace {
// PyTorch's norm_backward for 0 < p < inf, p != 1 (p = 1 and inf are composed of abs, sum and
// amax). x and y are the saved input and norm (y expanded to x's shape), g likewise.
Tensor norm_backward(const Tensor& g, const Tensor& x, const Tensor& y, double p) {
  if (p < 1.0) {
    // sign(x) |x|^(p-1) y^(1-p), the factor taken as 0 at x == 0 (where |x|^(p-1) is inf): an
    // all-zero block gets 0, not NaN.
    const Tensor zero = x == 0.0;
    const Tensor scaled = sign(x) * where(zero, 0.0, pow(abs(where(zero, 1.0, x)), p - 1.0));
    return scaled * g * pow(y, 1.0 - p);
  }
  // Where y == 0 (an all-zero block) the result is 0; dividing by 1 there instead of 0 keeps
  // the masked branch finite, so double backward gets no 0 * inf either.
  const Tensor zero_norm = y == 0.0;
  const Tensor safe = where(zero_norm, 1.0, y);
  if (p == 2.0) return g * where(zero_norm, 0.0, x / safe);
  // sign(x) |x|^(p-1) / y^(p-1) (written x |x|^(p-2) above p = 2).
  const Tensor scaled = p < 2.0 ? sign(x) * pow(abs(x), p - 1.0) : x * pow(abs(x), p - 2.0);
  return scaled * where(zero_norm, 0.0, g / pow(safe, p - 1.0));
}

// max |x| (or min |x|). PyTorch's gradient: sign(x) times an even share among the elements
// whose |x| equals the result or is NaN, so a NaN block gets 0 (sign(NaN) = 0), not NaN.
Tensor norm_inf(const Tensor& x, bool is_max, const Shape& dims_in, bool keepdim) {
  const auto dims = kernels::reduce_dims("norm", x, dims_in);
  Tensor y, ax;
  {
    NoGradGuard no_grad;
    ax = abs(x);
    y = kernels::extreme("norm", ax, dims, keepdim, is_max);
  }
  const Shape shape = x.shape();
  return record("norm_inf", {x}, y, {x, y}, [=](const Tensor& g, const Saved& s) {
    Tensor share;
    {
      NoGradGuard no_grad;
      const Tensor a = abs(s[0]);
      const Tensor hit = logical_or(a == expand_back(s[1], shape, dims, keepdim),
                                    kernels::predicate(a, [](auto v) { return v != v; }))
                             .to(g.dtype());
      share = sign(s[0]) * hit / sum(hit, dims, true);
    }
    return grads{expand_back(g, shape, dims, keepdim) * share};
  });
}

}  // namespace

Tensor norm(const Tensor& x, double p, const Shape& dims_in, bool keepdim) {
  TG_CHECK(x.is_floating_point(), "norm: expected a floating-point tensor, got dtype ", x.dtype());
  TG_CHECK(!std::isnan(p) && (p >= 0 || p == -kInf), "norm: p must be >= 0, kInf or -kInf, got ",
           p);
  if (std::isinf(p)) return norm_inf(x, p > 0, dims_in, keepdim);
  if (p == 1.0) return sum(abs(x), dims_in, keepdim);
  if (p == 0.0) {
    // The number of non-zeros: piecewise constant, so its gradient is 0.
    Tensor count;
    {
      NoGradGuard no_grad;
      count = sum((x != 0.0).to(x.dtype()), dims_in, keepdim);
    }
    const Shape shape = x.shape();
    return record("norm", {x}, count, [shape](const Tensor& g, const Saved&) {
      return grads{zeros(shape, g.dtype())};
    });
  }
  const auto dims = kernels::reduce_dims("norm", x, dims_in);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = p == 2.0 ? sqrt(sum(square(x), dims, keepdim))
                 : pow(sum(pow(abs(x), p), dims, keepdim), 1.0 / p);
  }
  const Shape shape = x.shape();
  return record("norm", {x}, y, {x, y}, [=](const Tensor& g, const Saved& s) {
    return grads{norm_backward(expand_back(g, shape, dims, keepdim), s[0],
                               expand_back(s[1], shape, dims, keepdim), p)};
  });
}

// ---- cumsum ----

namespace {
// A running sum from the start or (reverse) from the end; each is the other's adjoint.
Tensor cumsum_dir(const Tensor& x, std::int64_t dim, bool reverse) {
  Tensor y = kernels::cumsum(x, dim, reverse);
  return record("cumsum", {x}, y, [dim, reverse](const Tensor& g, const Saved&) {
    return grads{cumsum_dir(g, dim, !reverse)};
  });
}
}  // namespace

Tensor cumsum(const Tensor& x, std::int64_t dim) {
  return cumsum_dir(x, wrap_dim("cumsum", dim, x.dim()), false);
}

}  // namespace tg
