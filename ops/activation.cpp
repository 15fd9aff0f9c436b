// Activations. Each forward kernel sits beside its backward; the fused backwards are recorded ops
// whose own derivatives are written with differentiable ops.
#include "tapegrad/ops/activation.h"

#include <cmath>
#include <numbers>
#include <type_traits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/kernels/vec_math.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {

// g where x > 0, g * slope elsewhere. Linear in g, piecewise constant in x: its derivative
// w.r.t. g is itself and w.r.t. x is zero.
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope) {
  Tensor out =
      kernels::binary_in("leaky_relu_backward", g, x, g.dtype(), [slope](auto gv, auto xv) {
        using T = decltype(gv);
        return xv > T(0) ? gv : gv * static_cast<T>(slope);
      });
  return record("leaky_relu_backward", {g}, out, {x}, [slope](const Tensor& gg, const Saved& s) {
    return grads{leaky_relu_backward(gg, s[0], slope)};
  });
}

// 0 where x <= lo or x >= hi, else g (hardtanh and relu6), PyTorch's masks: 0 on the bounds,
// and a NaN input passes the gradient.
Tensor hardtanh_backward(const Tensor& g, const Tensor& x, double lo, double hi) {
  Tensor out = kernels::binary_in("hardtanh_backward", g, x, g.dtype(), [lo, hi](auto gv, auto xv) {
    using T = decltype(gv);
    return (xv <= static_cast<T>(lo) || xv >= static_cast<T>(hi)) ? T(0) : gv;
  });
  return record("hardtanh_backward", {g}, out, {x}, [lo, hi](const Tensor& gg, const Saved& s) {
    return grads{hardtanh_backward(gg, s[0], lo, hi)};
  });
}

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

// The standard normal density, as differentiable ops.
Tensor normal_pdf(const Tensor& x) { return exp(x * x * -0.5) * kInvSqrt2Pi; }

// g * d/dx gelu(x) = g * (Phi(x) + x phi(x)).
Tensor gelu_backward(const Tensor& g, const Tensor& x) {
  Tensor out = kernels::binary_in("gelu_backward", g, x, g.dtype(), [](auto gv, auto xv) {
    using T = decltype(gv);
    if constexpr (std::is_same_v<T, bool>) {
      return gv;  // never reached: g is floating (the instantiation exists for dispatch only)
    } else {
      const T cdf = T(0.5) * std::erfc(-xv * T(kInvSqrt2));
      const T pdf = std::exp(T(-0.5) * xv * xv) * T(kInvSqrt2Pi);
      return static_cast<T>(gv * (cdf + xv * pdf));
    }
  });
  return record("gelu_backward", {g, x}, out, {g, x}, [](const Tensor& gg, const Saved& s) {
    const Tensor g0 = s[0], x0 = s[1];
    // d/dx (Phi + x phi) = phi (2 - x^2)
    return grads{s.needs_grad(0) ? gelu_backward(gg, x0) : Tensor(),
                 s.needs_grad(1) ? gg * g0 * normal_pdf(x0) * (2.0 - x0 * x0) : Tensor()};
  });
}

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

// g * d/dx of the tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3):
// 0.5 (1 + t) + 0.5 x (1 - t^2) u', t = tanh(u).
Tensor gelu_tanh_backward(const Tensor& g, const Tensor& x) {
  Tensor out = kernels::binary_in("gelu_tanh_backward", g, x, g.dtype(), [](auto gv, auto xv) {
    using T = decltype(gv);
    if constexpr (!std::is_floating_point_v<T>) {
      return gv;  // never reached: gelu takes floating tensors only
    } else {
      const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * xv * xv);
      const T t = kernels::vec::tanh(T(kSqrt2OverPi) * (xv + T(kGeluCubic) * xv * xv * xv));
      return gv * (T(0.5) * (T(1) + t) + T(0.5) * xv * (T(1) - t * t) * du);
    }
  });
  return record("gelu_tanh_backward", {g, x}, out, {g, x}, [](const Tensor& gg, const Saved& s) {
    const Tensor g0 = s[0], x0 = s[1];
    Tensor gx;
    if (s.needs_grad(1)) {
      // d/dx = (1 - t^2) (u' - x t u'^2 + 0.5 x u''), u'' = 6 * 0.044715 sqrt(2/pi) x.
      const Tensor t = tanh((x0 + x0 * x0 * x0 * kGeluCubic) * kSqrt2OverPi);
      const Tensor du = (x0 * x0 * (3 * kGeluCubic) + 1.0) * kSqrt2OverPi;
      const Tensor ddu = x0 * (6 * kGeluCubic * kSqrt2OverPi);
      gx = gg * g0 * (1.0 - t * t) * (du - x0 * t * du * du + x0 * ddu * 0.5);
    }
    return grads{s.needs_grad(0) ? gelu_tanh_backward(gg, x0) : Tensor(), gx};
  });
}

// g * d/dx silu(x) = g * s (1 + x (1 - s)), s = sigmoid(x).
Tensor silu_backward(const Tensor& g, const Tensor& x) {
  Tensor out = kernels::binary_in("silu_backward", g, x, g.dtype(), [](auto gv, auto xv) {
    using T = decltype(gv);
    const T sg = kernels::vec::sigmoid(xv);
    return gv * sg * (T(1) + xv * (T(1) - sg));
  });
  return record("silu_backward", {g, x}, out, {g, x}, [](const Tensor& gg, const Saved& s) {
    const Tensor g0 = s[0], x0 = s[1];
    // d/dx s (1 + x (1 - s)) = s (1 - s) (2 + x (1 - 2 s))
    Tensor gx;
    if (s.needs_grad(1)) {
      const Tensor sg = sigmoid(x0);
      gx = gg * g0 * sg * (1.0 - sg) * (2.0 + x0 * (1.0 - 2.0 * sg));
    }
    return grads{s.needs_grad(0) ? silu_backward(gg, x0) : Tensor(), gx};
  });
}

}  // namespace

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor y = kernels::unary_floating("leaky_relu", x, [slope](auto v) {
    using T = decltype(v);
    return v > T(0) ? v : v * static_cast<T>(slope);
  });
  return record("leaky_relu", {x}, y, {x}, [slope](const Tensor& g, const Saved& s) {
    return grads{leaky_relu_backward(g, s[0], slope)};
  });
}

Tensor hardtanh(const Tensor& x, double lo, double hi) {
  TG_CHECK(lo <= hi, "hardtanh: min_val (", lo, ") must not exceed max_val (", hi, ")");
  Tensor y = kernels::unary_floating("hardtanh", x, [lo, hi](auto v) {
    using T = decltype(v);
    return v < static_cast<T>(lo) ? static_cast<T>(lo)
                                  : (v > static_cast<T>(hi) ? static_cast<T>(hi) : v);
  });
  return record("hardtanh", {x}, y, {x}, [lo, hi](const Tensor& g, const Saved& s) {
    return grads{hardtanh_backward(g, s[0], lo, hi)};
  });
}

Tensor relu6(const Tensor& x) { return hardtanh(x, 0.0, 6.0); }

Tensor elu(const Tensor& x, double alpha) {
  Tensor y = kernels::unary_floating("elu", x, [alpha](auto v) {
    using T = decltype(v);
    return v > T(0) ? v : static_cast<T>(alpha) * std::expm1(v);
  });
  // d/dx = alpha e^x = y + alpha for x <= 0, else 1 (so 1 at NaN, as in PyTorch);
  // differentiable through the saved y.
  return record("elu", {x}, y, {x, y}, [alpha](const Tensor& g, const Saved& s) {
    const Tensor positive = kernels::predicate(s[0], [](auto v) { return !(v <= decltype(v)(0)); });
    return grads{g * where(positive, 1.0, s[1] + alpha)};
  });
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  TG_CHECK(approximate == "none" || approximate == "tanh",
           "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  if (approximate == "tanh") {
    Tensor y = kernels::unary_floating("gelu", x, [](auto v) {
      using T = decltype(v);
      return T(0.5) * v *
             (T(1) + kernels::vec::tanh(T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v)));
    });
    return record("gelu_tanh", {x}, y, {x}, [](const Tensor& g, const Saved& s) {
      return grads{gelu_tanh_backward(g, s[0])};
    });
  }
  // Phi via erfc keeps relative accuracy for very negative x, where 1 + erf cancels.
  Tensor y = kernels::unary_floating("gelu", x, [](auto v) {
    using T = decltype(v);
    return v * T(0.5) * std::erfc(-v * T(kInvSqrt2));
  });
  return record("gelu", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{gelu_backward(g, s[0])}; });
}

Tensor silu(const Tensor& x) {
  Tensor y =
      kernels::unary_floating("silu", x, [](auto v) { return v * kernels::vec::sigmoid(v); });
  return record("silu", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{silu_backward(g, s[0])}; });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  TG_CHECK(beta != 0.0, "softplus: beta must be non-zero");
  Tensor y = kernels::unary_floating("softplus", x, [beta, threshold](auto v) {
    using T = decltype(v);
    const T z = v * static_cast<T>(beta);
    if (z > static_cast<T>(threshold)) return v;
    // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows.
    return (std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)))) / static_cast<T>(beta);
  });
  return record("softplus", {x}, y, {x}, [beta, threshold](const Tensor& g, const Saved& s) {
    const Tensor x0 = s[0];
    const Tensor linear = kernels::predicate(
        x0, [beta, threshold](auto v) { return static_cast<double>(v) * beta > threshold; });
    return grads{g * where(linear, 1.0, sigmoid(x0 * beta))};
  });
}

}  // namespace tg
