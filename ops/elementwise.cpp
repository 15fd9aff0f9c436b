// Elementwise ops: each forward kernel call sits beside its backward formula. Backward formulas
// are written with differentiable ops, so they can be differentiated again (create_graph).
#include "tapegrad/ops/elementwise.h"

#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/kernels/elementwise.h"

namespace tg {

using autograd::record;
using autograd::Saved;

Tensor wrap_scalar(double value, const Tensor& like) {
  Dtype d = like.dtype();
  if (!is_floating(d) && value != std::floor(value)) d = kFloat32;
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
  Tensor y = kernels::binary("sub", a, b, [alpha](auto x, auto z) {
    return x - static_cast<decltype(x)>(alpha) * z;
  });
  return record("sub", {a, b}, y,
                [alpha](const Tensor& g, const Saved&) { return grads{g, g * -alpha}; });
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
  Tensor y = kernels::unary_same(x, [](auto v) { return -v; });
  return record("neg", {x}, y, [](const Tensor& g, const Saved&) { return grads{-g}; });
}

Tensor exp(const Tensor& x) {
  Tensor y = kernels::unary_floating("exp", x, [](auto v) { return std::exp(v); });
  return record("exp", {x}, y, {y},
                [](const Tensor& g, const Saved& s) { return grads{g * s[0]}; });
}

Tensor log(const Tensor& x) {
  Tensor y = kernels::unary_floating("log", x, [](auto v) { return std::log(v); });
  return record("log", {x}, y, {x}, [](const Tensor& g, const Saved& s) { return grads{g / s[0]}; });
}

Tensor tanh(const Tensor& x) {
  Tensor y = kernels::unary_floating("tanh", x, [](auto v) { return std::tanh(v); });
  return record("tanh", {x}, y, {y}, [](const Tensor& g, const Saved& s) {
    const Tensor t = s[0];
    return grads{g * (1.0 - t * t)};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = kernels::unary_floating("sigmoid", x, [](auto v) {
    using T = decltype(v);
    // Split by sign so exp never overflows.
    if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
    const T e = std::exp(v);
    return e / (T(1) + e);
  });
  return record("sigmoid", {x}, y, {y}, [](const Tensor& g, const Saved& s) {
    const Tensor sg = s[0];
    return grads{g * sg * (1.0 - sg)};
  });
}

namespace {
// relu's gradient: g where y > 0, else 0. An op of its own so that relu's backward is one pass;
// its derivative w.r.t. g is itself, and zero w.r.t. y (the mask is piecewise constant).
Tensor relu_backward(const Tensor& g, const Tensor& y) {
  Tensor out = kernels::binary("relu_backward", g, y, [](auto gv, auto yv) {
    return yv > decltype(yv)(0) ? gv : decltype(gv)(0);
  });
  return record("relu_backward", {g}, out, {y}, [](const Tensor& gg, const Saved& s) {
    return grads{relu_backward(gg, s[0])};
  });
}
}  // namespace

Tensor relu(const Tensor& x) {
  Tensor y = kernels::unary_same(x, [](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); });
  return record("relu", {x}, y, {y},
                [](const Tensor& g, const Saved& s) { return grads{relu_backward(g, s[0])}; });
}

Tensor pow(const Tensor& x, double p) {
  Tensor y;
  if (p == 2.0) y = kernels::unary_floating("pow", x, [](auto v) { return v * v; });
  else y = kernels::unary_floating("pow", x, [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); });
  return record("pow", {x}, y, {x}, [p](const Tensor& g, const Saved& s) {
    if (p == 0.0) return grads{zeros_like(g)};
    if (p == 1.0) return grads{g};
    if (p == 2.0) return grads{g * s[0] * 2.0};
    return grads{g * p * pow(s[0], p - 1.0)};
  });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, wrap_scalar(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, wrap_scalar(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, wrap_scalar(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, wrap_scalar(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(wrap_scalar(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(wrap_scalar(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(wrap_scalar(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(wrap_scalar(a, b), b); }

}  // namespace tg
