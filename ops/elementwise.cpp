// Elementwise ops: each forward kernel call sits beside its backward formula. Backward formulas
// are written with differentiable ops, so they can be differentiated again (create_graph).
#include "tapegrad/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/comparison.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/kernels/reduce.h"
#include "tapegrad/ops/kernels/vec_math.h"

namespace tg {

using autograd::record;
using autograd::Saved;

Tensor wrap_scalar(double value, const Tensor& like, std::string_view op) {
  const Dtype d = result_type(like, value);
  check_scalar_fits(op, value, d);
  return scalar_tensor(value, d);
}

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor y = alpha == 1.0 ? kernels::binary("add", a, b, [](auto x, auto z) { return x + z; })
                          : kernels::binary("add", a, b, [alpha](auto x, auto z) {
                              return x + static_cast<decltype(x)>(alpha) * z;
                            });
  return record("add", {a, b}, y, [alpha](const Tensor& g, const Saved&) {
    return grads{g, alpha == 1.0 ? g : g * alpha};
  });
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  TG_CHECK(a.dtype() != kBool && b.dtype() != kBool, "sub: subtraction with a bool tensor is ",
           "not supported (got ", a.dtype(), " - ", b.dtype(),
           "); to invert a mask use logical_not or ~, for the difference of masks logical_xor");
  Tensor y = kernels::binary(
      "sub", a, b, [alpha](auto x, auto z) { return x - static_cast<decltype(x)>(alpha) * z; });
  return record("sub", {a, b}, y, [alpha](const Tensor& g, const Saved&) {
    return grads{g, g * -alpha};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = kernels::binary("mul", a, b, [](auto x, auto z) { return x * z; });
  return record("mul", {a, b}, y, {a, b}, [](const Tensor& g, const Saved& s) {
    return grads{s.needs_grad(0) ? g * s[1] : Tensor(), s.needs_grad(1) ? g * s[0] : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = kernels::binary_floating("div", a, b, [](auto x, auto z) { return x / z; });
  return record("div", {a, b}, y, {a, b}, [](const Tensor& g, const Saved& s) {
    const Tensor b = s[1];
    return grads{s.needs_grad(0) ? g / b : Tensor(),
                 s.needs_grad(1) ? -(g * s[0]) / (b * b) : Tensor()};
  });
}

Tensor neg(const Tensor& x) {
  check_not_bool(x.dtype(), "neg", "to invert a mask use logical_not or ~");
  Tensor y = kernels::unary_same(x, [](auto v) { return -v; });
  return record("neg", {x}, y, [](const Tensor& g, const Saved&) { return grads{-g}; });
}

Tensor exp(const Tensor& x) {
  Tensor y = kernels::unary_floating("exp", x, [](auto v) { return kernels::vec::exp(v); });
  return record("exp", {x}, y, {y},
                [](const Tensor& g, const Saved& s) { return grads{g * s[0]}; });
}

Tensor log(const Tensor& x) {
  Tensor y = kernels::unary_floating("log", x, [](auto v) { return std::log(v); });
  return record("log", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{g / s[0]}; });
}

Tensor tanh(const Tensor& x) {
  Tensor y = kernels::unary_floating("tanh", x, [](auto v) { return kernels::vec::tanh(v); });
  return record("tanh", {x}, y, {y}, [](const Tensor& g, const Saved& s) {
    const Tensor t = s[0];
    return grads{g * (1.0 - t * t)};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = kernels::unary_floating("sigmoid", x, [](auto v) { return kernels::vec::sigmoid(v); });
  return record("sigmoid", {x}, y, {y}, [](const Tensor& g, const Saved& s) {
    const Tensor sg = s[0];
    return grads{g * sg * (1.0 - sg)};
  });
}

namespace {
// relu's gradient: g where y > 0, else 0. An op of its own so that relu's backward is one pass;
// its derivative w.r.t. g is itself, and zero w.r.t. y (the mask is piecewise constant).
Tensor relu_backward(const Tensor& g, const Tensor& y) {
  // PyTorch's threshold_backward: y <= 0 masks, so a NaN output passes the gradient (a select,
  // not a product: a NaN or inf gradient where y <= 0 still gives 0).
  Tensor out = kernels::binary("relu_backward", g, y, [](auto gv, auto yv) {
    return yv <= decltype(yv)(0) ? decltype(gv)(0) : gv;
  });
  return record("relu_backward", {g}, out, {y},
                [](const Tensor& gg, const Saved& s) { return grads{relu_backward(gg, s[0])}; });
}
}  // namespace

Tensor relu(const Tensor& x) {
  check_not_bool(x.dtype(), "relu");
  // max(0, v) in PyTorch's operand order: NaN stays NaN (not hidden as 0) and -0 stays -0.
  Tensor y = kernels::unary_same(x, [](auto v) { return v < decltype(v)(0) ? decltype(v)(0) : v; });
  return record("relu", {x}, y, {y},
                [](const Tensor& g, const Saved& s) { return grads{relu_backward(g, s[0])}; });
}

Tensor abs(const Tensor& x) {
  check_not_bool(x.dtype(), "abs");
  Tensor y = kernels::unary_same(x, [](auto v) { return v < decltype(v)(0) ? -v : v; });
  return record("abs", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{g * sign(s[0])}; });
}

Tensor expm1(const Tensor& x) {
  Tensor y = kernels::unary_floating("expm1", x, [](auto v) { return std::expm1(v); });
  return record("expm1", {x}, y, {y},
                [](const Tensor& g, const Saved& s) { return grads{g * (s[0] + 1.0)}; });
}

Tensor log1p(const Tensor& x) {
  Tensor y = kernels::unary_floating("log1p", x, [](auto v) { return std::log1p(v); });
  return record("log1p", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{g / (s[0] + 1.0)}; });
}

Tensor sqrt(const Tensor& x) {
  Tensor y = kernels::unary_floating("sqrt", x, [](auto v) { return std::sqrt(v); });
  return record("sqrt", {x}, y, {y},
                [](const Tensor& g, const Saved& s) { return grads{g / s[0] * 0.5}; });
}

Tensor rsqrt(const Tensor& x) {
  Tensor y = kernels::unary_floating("rsqrt", x, [](auto v) {
    using T = decltype(v);
    return T(1) / std::sqrt(v);
  });
  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3
  return record("rsqrt", {x}, y, {y}, [](const Tensor& g, const Saved& s) {
    const Tensor r = s[0];
    return grads{g * (r * r * r) * -0.5};
  });
}

Tensor square(const Tensor& x) {
  if (x.dtype() == kBool) return square(x.to(kInt64));  // PyTorch: int64
  Tensor y = kernels::unary_same(x, [](auto v) { return v * v; });
  return record("square", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{g * s[0] * 2.0}; });
}

Tensor reciprocal(const Tensor& x) {
  Tensor y = kernels::unary_floating("reciprocal", x, [](auto v) { return decltype(v)(1) / v; });
  return record("reciprocal", {x}, y, {y}, [](const Tensor& g, const Saved& s) {
    const Tensor r = s[0];
    return grads{-(g * r * r)};
  });
}

Tensor sin(const Tensor& x) {
  Tensor y = kernels::unary_floating("sin", x, [](auto v) { return std::sin(v); });
  return record("sin", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{g * cos(s[0])}; });
}

Tensor cos(const Tensor& x) {
  Tensor y = kernels::unary_floating("cos", x, [](auto v) { return std::cos(v); });
  return record("cos", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{-(g * sin(s[0]))}; });
}

Tensor erf(const Tensor& x) {
  Tensor y = kernels::unary_floating("erf", x, [](auto v) { return std::erf(v); });
  return record("erf", {x}, y, {x}, [](const Tensor& g, const Saved& s) {
    const Tensor v = s[0];
    return grads{g * exp(-(v * v)) * (2.0 * std::numbers::inv_sqrtpi)};
  });
}

// ---- not differentiable: no record, so the result never requires grad ----

Tensor sign(const Tensor& x) {
  return kernels::unary_same(x, [](auto v) {
    using T = decltype(v);
    return static_cast<T>((T(0) < v) - (v < T(0)));  // NaN gives 0, as in PyTorch
  });
}

namespace {
template <typename F>
Tensor rounding(const Tensor& x, F f) {
  check_not_bool(x.dtype(), "round, floor and ceil");
  if (!x.is_floating_point()) return x.detach().clone();  // integers are already whole
  return kernels::unary_floating("round", x, f);
}
}  // namespace

Tensor round(const Tensor& x) {
  return rounding(x, [](auto v) { return std::nearbyint(v); });  // default mode: half to even
}
Tensor floor(const Tensor& x) {
  return rounding(x, [](auto v) { return std::floor(v); });
}
Tensor ceil(const Tensor& x) {
  return rounding(x, [](auto v) { return std::ceil(v); });
}

// ---- powers ----

Tensor pow(const Tensor& x, double p) {
  // An integer or bool tensor to a whole power stays integer (int64 for bool), as in PyTorch.
  if (!x.is_floating_point() && !is_floating(result_type(x, p)))
    return pow(x.dtype() == kBool ? x.to(kInt64) : x, wrap_scalar(p, x, "pow"));
  Tensor y;
  // PyTorch's special exponents: 0.5 and -0.5 are sqrt and 1 / sqrt, so (-inf)^0.5 is NaN and
  // (-0)^0.5 is -0 (std::pow gives inf and 0).
  if (p == 2.0)
    y = kernels::unary_floating("pow", x, [](auto v) { return v * v; });
  else if (p == 0.5)
    y = kernels::unary_floating("pow", x, [](auto v) { return std::sqrt(v); });
  else if (p == -0.5)
    y = kernels::unary_floating("pow", x, [](auto v) { return decltype(v)(1) / std::sqrt(v); });
  else
    y = kernels::unary_floating("pow", x,
                                [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); });
  return record("pow", {x}, y, {x}, [p](const Tensor& g, const Saved& s) {
    if (p == 0.0) return grads{zeros_like(g)};
    if (p == 1.0) return grads{g};
    if (p == 2.0) return grads{g * s[0] * 2.0};
    return grads{g * p * pow(s[0], p - 1.0)};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  const Dtype dtype = result_type(a, b);
  check_not_bool(dtype, "pow");
  if (!is_floating(dtype))
    TG_CHECK(!kernels::any_true(b < 0.0), "pow: ",
             "integers to negative integer powers are not allowed (use a floating-point base)");
  Tensor y = kernels::binary("pow", a, b, [](auto x, auto z) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(x, z);
    } else if constexpr (std::is_same_v<T, bool>) {
      return x;  // never reached: refused above
    } else {     // exact integer power by squaring, wrapping on overflow like PyTorch
      using U = std::make_unsigned_t<T>;
      U result = 1, base = static_cast<U>(x);
      for (auto e = static_cast<std::uint64_t>(z); e > 0; e >>= 1, base *= base)
        if (e & 1) result *= base;
      return static_cast<T>(result);
    }
  });
  return record("pow_tensor", {a, b}, y, {a, b, y}, [](const Tensor& g, const Saved& s) {
    const Tensor base = s[0], e = s[1];
    Tensor ga, gb;
    // PyTorch's masks: d/da is 0 where b == 0 (even at a = 0, where b a^(b-1) is 0 * inf);
    // d/db = a^b log a is 0 where a == 0 and b >= 0 (the log is taken of 1 there), and
    // inf * -inf = -inf for 0^b with b < 0.
    if (s.needs_grad(0)) ga = where(e == 0.0, 0.0, g * e * pow(base, e - 1.0));
    if (s.needs_grad(1)) {
      const Tensor masked = logical_and(base == 0.0, e >= 0.0);
      gb = g * where(masked, 0.0, s[2] * log(where(masked, 1.0, base)));
    }
    return grads{ga, gb};
  });
}

Tensor pow(double base, const Tensor& exponent) {
  return pow(wrap_scalar(base, exponent), exponent);
}

// ---- selection ----

namespace {
// Share of the gradient that goes to `a` (first) or `b` in maximum (is_max) or minimum, as
// PyTorch's masks give it: 1/2 on ties, 0 where the other operand wins, else 1 -- so with a NaN
// (no comparison holds) both operands get the full gradient. A constant: the selection is
// piecewise constant.
Tensor select_share(const Tensor& a, const Tensor& b, Dtype dtype, bool is_max, bool first) {
  const bool a_loses_if_less = is_max == first;  // maximum: a loses where a < b
  return kernels::binary_in(is_max ? "maximum" : "minimum", a, b, dtype,
                            [a_loses_if_less](auto x, auto z) {
                              using T = decltype(x);
                              if (x == z) return T(0.5);
                              return (a_loses_if_less ? x < z : x > z) ? T(0) : T(1);
                            });
}

// g * share, but 0 (not 0 * inf) where the share is 0, like PyTorch's masked_fill.
Tensor masked_share(const Tensor& g, const Tensor& share) {
  return where(share == 0.0, 0.0, g * share);
}

Tensor extremum(const Tensor& a, const Tensor& b, bool is_max) {
  Tensor y = is_max ? kernels::binary("maximum", a, b,
                                      [](auto x, auto z) {
                                        return (x > z || x != x) ? x : z;  // NaN propagates
                                      })
                    : kernels::binary("minimum", a, b,
                                      [](auto x, auto z) { return (x < z || x != x) ? x : z; });
  auto backward = [is_max](const Tensor& g, const Saved& s) {
    Tensor ga, gb;
    if (s.needs_grad(0)) ga = masked_share(g, select_share(s[0], s[1], g.dtype(), is_max, true));
    if (s.needs_grad(1)) gb = masked_share(g, select_share(s[0], s[1], g.dtype(), is_max, false));
    return grads{ga, gb};
  };
  return is_max ? record("maximum", {a, b}, y, {a, b}, backward)
                : record("minimum", {a, b}, y, {a, b}, backward);
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false); }

Tensor where(const Tensor& cond_in, const Tensor& a, const Tensor& b) {
  TG_CHECK(cond_in.defined() && a.defined() && b.defined(), "where: tensors must be defined");
  const Tensor cond = kernels::as_mask("where", "condition", cond_in.detach());
  Tensor y = kernels::where("where", cond, a, b, result_type(a, b));
  return record("where", {a, b}, y, {cond}, [](const Tensor& g, const Saved& s) {
    const Tensor c = s[0];
    const Tensor zero = wrap_scalar(0.0, g);
    return grads{s.needs_grad(0) ? where(c, g, zero) : Tensor(),
                 s.needs_grad(1) ? where(c, zero, g) : Tensor()};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  return where(cond, a, wrap_scalar(b, a, "where"));
}
Tensor where(const Tensor& cond, double a, const Tensor& b) {
  return where(cond, wrap_scalar(a, b, "where"), b);
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  TG_CHECK(lo || hi, "clamp: at least one of min and max must be given");
  auto whole = [](std::optional<double> v) { return !v || *v == std::floor(*v); };
  const bool to_float = !x.is_floating_point() && (!whole(lo) || !whole(hi));
  const Tensor xin = to_float ? x.to(kFloat32) : x.dtype() == kBool ? x.to(kInt64) : x;
  const bool has_lo = lo.has_value(), has_hi = hi.has_value();
  const double l = lo.value_or(0.0), h = hi.value_or(0.0);
  // lo is applied first, so min > max gives max everywhere (like PyTorch); NaN stays NaN.
  Tensor y = kernels::unary_same(xin, [=](auto v) {
    using T = decltype(v);
    if constexpr (std::is_floating_point_v<T>) {
      if (has_lo && v < static_cast<T>(l)) v = static_cast<T>(l);
      if (has_hi && v > static_cast<T>(h)) v = static_cast<T>(h);
      return v;
    } else {  // integers: compare in double and saturate the bounds, so nothing out of T's
              // range is ever cast to T
      auto saturate = [](double b) {
        if (b <= static_cast<double>(std::numeric_limits<T>::lowest()))
          return std::numeric_limits<T>::lowest();
        if (b >= static_cast<double>(std::numeric_limits<T>::max()))
          return std::numeric_limits<T>::max();
        return static_cast<T>(b);
      };
      if (has_lo && static_cast<double>(v) < l) v = saturate(l);
      if (has_hi && static_cast<double>(v) > h) v = saturate(h);
      return v;
    }
  });
  return record("clamp", {xin}, y, {xin}, [=](const Tensor& g, const Saved& s) {
    // PyTorch's subgradient: 1 on the bounds, 0 outside and at NaN (a select: a NaN or inf
    // gradient outside still gives 0).
    const Tensor pass = kernels::predicate(s[0], [=](auto v) {
      using T = decltype(v);
      return (!has_lo || v >= static_cast<T>(l)) && (!has_hi || v <= static_cast<T>(h));
    });
    return grads{where(pass, g, 0.0)};
  });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
// Tensor-with-scalar ops on floating tensors: the scalar is a constant of the kernel, not a graph
// input, so `y * 0.5` allocates one result and records one single-input node. (Integer tensors
// take the general path, which promotes to float32 for a fractional scalar as PyTorch does.)
namespace {
Tensor add_scalar(const Tensor& a, double s) {
  Tensor y = kernels::unary_same(a, [s](auto v) { return v + static_cast<decltype(v)>(s); });
  return record("add_scalar", {a}, y, [](const Tensor& g, const Saved&) { return grads{g}; });
}

Tensor rsub_scalar(double s, const Tensor& a) {  // s - a
  Tensor y = kernels::unary_same(a, [s](auto v) { return static_cast<decltype(v)>(s) - v; });
  return record("rsub_scalar", {a}, y, [](const Tensor& g, const Saved&) { return grads{-g}; });
}

Tensor mul_scalar(const Tensor& a, double s) {
  Tensor y = kernels::unary_same(a, [s](auto v) { return v * static_cast<decltype(v)>(s); });
  return record("mul_scalar", {a}, y,
                [s](const Tensor& g, const Saved&) { return grads{mul_scalar(g, s)}; });
}

Tensor div_scalar(const Tensor& a, double s) {
  Tensor y = kernels::unary_same(a, [s](auto v) { return v / static_cast<decltype(v)>(s); });
  return record("div_scalar", {a}, y,
                [s](const Tensor& g, const Saved&) { return grads{div_scalar(g, s)}; });
}
}  // namespace

Tensor operator+(const Tensor& a, double b) {
  return a.is_floating_point() ? add_scalar(a, b) : add(a, wrap_scalar(b, a, "add"));
}
Tensor operator-(const Tensor& a, double b) {
  return a.is_floating_point() ? add_scalar(a, -b) : sub(a, wrap_scalar(b, a, "sub"));
}
Tensor operator*(const Tensor& a, double b) {
  return a.is_floating_point() ? mul_scalar(a, b) : mul(a, wrap_scalar(b, a, "mul"));
}
// Division is always floating, so an integer tensor's divisor enters as float32 (PyTorch keeps
// the Python number exact; u8 / -1 is -x, not an overflow).
Tensor operator/(const Tensor& a, double b) {
  return a.is_floating_point() ? div_scalar(a, b) : div(a, scalar_tensor(b, kFloat32));
}
Tensor operator+(double a, const Tensor& b) { return b + a; }
Tensor operator-(double a, const Tensor& b) {
  return b.is_floating_point() ? rsub_scalar(a, b) : sub(wrap_scalar(a, b, "sub"), b);
}
Tensor operator*(double a, const Tensor& b) { return b * a; }
Tensor operator/(double a, const Tensor& b) {
  return div(b.is_floating_point() ? wrap_scalar(a, b, "div") : scalar_tensor(a, kFloat32), b);
}

}  // namespace tg
