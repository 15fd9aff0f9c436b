#pragma once
// Raw elementwise kernels: allocate the result, broadcast, dispatch on dtype, and run f over
// every element through the strided-iteration helper. Nothing here records autograd.
#include <cmath>
#include <string_view>

#include "tapegrad/core/iterate.h"

namespace tg::kernels {

// Floating inputs keep their dtype; integer inputs are computed in float32 (like PyTorch).
inline Tensor as_floating(const Tensor& x) { return x.is_floating_point() ? x : x.to(kFloat32); }

// y[i] = f(x[i]) for float/double x; `f` is a generic lambda.
template <typename F>
Tensor unary_floating(std::string_view op, const Tensor& x_in, F f) {
  const Tensor x = as_floating(x_in);
  Tensor y = empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    detail::map_kernel<T, T>(y, {&x}, [&](T v) { return static_cast<T>(f(v)); });
  });
  return y;
}

// y[i] = f(x[i]) in x's own dtype (any dtype).
template <typename F>
Tensor unary_same(const Tensor& x, F f) {
  Tensor y = empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    detail::map_kernel<T, T>(y, {&x}, [&](T v) { return static_cast<T>(f(v)); });
  });
  return y;
}

// out[i] = f(a[i], b[i]) with broadcasting, both computed in `dtype`.
template <typename F>
Tensor binary_in(std::string_view op, const Tensor& a_in, const Tensor& b_in, Dtype dtype, F f) {
  const Shape shape = broadcast_shapes(op, a_in.shape(), b_in.shape());
  const Tensor a = detail::broadcast_view(a_in.dtype() == dtype ? a_in : a_in.to(dtype), shape);
  const Tensor b = detail::broadcast_view(b_in.dtype() == dtype ? b_in : b_in.to(dtype), shape);
  Tensor out = empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    detail::map_kernel<T, T, T>(out, {&a, &b}, [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
  return out;
}

// Binary op in the promoted dtype of a and b.
template <typename F>
Tensor binary(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  return binary_in(op, a, b, promote_types(a.dtype(), b.dtype()), f);
}

// Like binary, but the promoted dtype must be floating (integers compute in float32).
template <typename F>
Tensor binary_floating(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  if (!is_floating(d)) d = kFloat32;
  return binary_in(op, a, b, d, f);
}

// self[i] = f(self[i], other[i]) in place; other broadcasts to self's shape.
template <typename F>
void binary_inplace(std::string_view op, const Tensor& self, const Tensor& other_in, F f) {
  TG_CHECK(broadcast_shapes(op, self.shape(), other_in.shape()) == self.shape(), op,
           ": cannot write a result of shape ",
           shape_str(broadcast_shapes(op, self.shape(), other_in.shape())),
           " into a tensor of shape ", shape_str(self.shape()));
  TG_CHECK(self.is_floating_point() || !other_in.is_floating_point(), op, ": result of dtype ",
           other_in.dtype(), " cannot be written into a tensor of dtype ", self.dtype());
  const Tensor other = detail::broadcast_view(
      other_in.dtype() == self.dtype() ? other_in : other_in.to(self.dtype()), self.shape());
  dispatch(self.dtype(), [&]<typename T>() {
    detail::map_kernel<T, T, T>(self, {&self, &other},
                                [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
}

}  // namespace tg::kernels
