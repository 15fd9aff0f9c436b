#pragma once
// Elementwise ops with NumPy broadcasting. Binary ops compute in result_type(a, b) (core/tensor.h:
// PyTorch's promotion, bool < uint8 < int64 < float32 < float64, 0-dim operands and C++ numbers
// promote only across categories); div always gives a floating result, like torch.div.
// Bool tensors: add and mul are logical or/and (bool result), sub and neg are refused (use
// logical_xor / logical_not), abs, relu, round/floor/ceil and pow(bool, bool) are refused,
// square, clamp and whole powers give int64, as in PyTorch.
// Math functions of integer tensors compute in float32. The activations live in activation.h
// and the comparisons in comparison.h; both are included here.
#include <optional>

#include "tapegrad/core/tensor.h"

namespace tg {

Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// ---- unary math ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);  // gradient sign(x): 0 at 0 and at NaN, like PyTorch
Tensor exp(const Tensor& x);
Tensor expm1(const Tensor& x);  // exp(x) - 1, accurate near 0
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);  // log(1 + x), accurate near 0
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x)
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);  // NaN stays NaN and passes its gradient, like PyTorch

// Not differentiable: the result never requires grad (backward through it is an error).
Tensor sign(const Tensor& x);   // -1, 0 or 1 in x's dtype; 0 for NaN, like PyTorch
Tensor round(const Tensor& x);  // half to even, like torch.round
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);

// ---- powers ----
Tensor pow(const Tensor& x, double exponent);
// broadcasting; like PyTorch, d/dbase is 0 where exponent == 0 and d/dexponent is 0 where
// base == 0 and exponent >= 0 (-inf for 0 to a negative power).
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(double base, const Tensor& exponent);

// ---- selection ----
// Elementwise max/min with broadcasting; on ties the gradient is split half/half, and where a
// NaN is compared both operands get the whole gradient (PyTorch's masks).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// cond ? a : b elementwise; all three broadcast; the result has result_type(a, b). cond is a bool
// tensor (e.g. from a comparison); uint8 is also accepted (non-zero is true), as PyTorch 1.13
// does with a deprecation warning; other dtypes are refused.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
// Limits x to [min, max] (either bound may be omitted). The gradient passes where
// min <= x <= max (not at NaN), like PyTorch.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// A 0-dim tensor holding `value` in x's dtype (how C++ numbers enter binary ops). A whole value
// that does not fit an integer dtype (arange(3) + 1e20) is a tg::Error naming `op`; PyTorch
// would promote to float there, which tapegrad does not do yet (a fractional value gives float32).
Tensor wrap_scalar(double value, const Tensor& like, std::string_view op = "scalar operand");

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace tg
