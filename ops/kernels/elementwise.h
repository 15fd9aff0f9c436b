#pragma once
// Raw elementwise kernels: allocate the result, broadcast, dispatch on dtype, and run f over
// every element through the strided-iteration helper. Nothing here records autograd.
#include <bit>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "tapegrad/core/detail/iterate.h"

namespace tg::kernels {

// Floating inputs keep their dtype; integer inputs are computed in float32 (like PyTorch).
inline Tensor as_floating(const Tensor& x) { return x.is_floating_point() ? x : x.to(kFloat32); }

// Casts t to `dtype` without recording a graph node (kernels never record).
inline Tensor cast_plain(const Tensor& t, Dtype dtype) {
  return t.dtype() == dtype ? t : t.detach().to(dtype);
}

// A mask or condition as bool. tapegrad accepts bool and, like PyTorch 1.13 (which deprecates
// it), uint8 (non-zero is true); any other dtype is a tg::Error naming `op`.
inline Tensor as_mask(std::string_view op, std::string_view what, const Tensor& m) {
  TG_CHECK(m.dtype() == kBool || m.dtype() == kUInt8, op, ": ", what,
           " must be a bool tensor (e.g. from a comparison; uint8 is also accepted), got dtype ",
           m.dtype());
  return cast_plain(m, kBool);
}

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

// True when t is a single value broadcast over a larger result: kernels then pass it as a
// constant, so the other operand runs through the contiguous, vectorizable loop instead of a
// stride-0 strided one.
inline bool is_broadcast_scalar(const Tensor& t, const Shape& shape) {
  return t.numel() == 1 && numel_of(shape) > 1;
}

// out[i] = f(a[i], b[i]) with broadcasting, both computed in `dtype`.
template <typename F>
Tensor binary_in(std::string_view op, const Tensor& a_in, const Tensor& b_in, Dtype dtype, F f) {
  const Shape shape = broadcast_shapes(op, a_in.shape(), b_in.shape());
  Tensor out = empty(shape, dtype);
  if (is_broadcast_scalar(b_in, shape) || is_broadcast_scalar(a_in, shape)) {
    const bool b_scalar = is_broadcast_scalar(b_in, shape);
    const Tensor other = detail::broadcast_view(cast_plain(b_scalar ? a_in : b_in, dtype), shape);
    dispatch(dtype, [&]<typename T>() {
      const T c = (b_scalar ? b_in : a_in).template item<T>();
      if (b_scalar)
        detail::map_kernel<T, T>(out, {&other}, [c, &f](T x) { return static_cast<T>(f(x, c)); });
      else
        detail::map_kernel<T, T>(out, {&other}, [c, &f](T y) { return static_cast<T>(f(c, y)); });
    });
    return out;
  }
  const Tensor a = detail::broadcast_view(cast_plain(a_in, dtype), shape);
  const Tensor b = detail::broadcast_view(cast_plain(b_in, dtype), shape);
  dispatch(dtype, [&]<typename T>() {
    detail::map_kernel<T, T, T>(out, {&a, &b}, [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
  return out;
}

// Binary op in the promoted dtype of a and b (result_type).
template <typename F>
Tensor binary(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  return binary_in(op, a, b, result_type(a, b), f);
}

// Like binary, but the promoted dtype must be floating (integers compute in float32).
template <typename F>
Tensor binary_floating(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  Dtype d = result_type(a, b);
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
  TG_CHECK(can_cast(result_type(self, other_in), self.dtype()), op, ": result of dtype ",
           result_type(self, other_in), " cannot be written into a tensor of dtype ", self.dtype());
  const Tensor other = detail::broadcast_view(
      other_in.dtype() == self.dtype() ? other_in : other_in.to(self.dtype()), self.shape());
  dispatch(self.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      // A bool destination may be fresh memory (empty(), then copy_): read it as bytes, since
      // loading a byte other than 0 or 1 as bool is undefined behaviour.
      detail::map_kernel<std::uint8_t, std::uint8_t, std::uint8_t>(
          self, {&self, &other}, [&](std::uint8_t x, std::uint8_t y) {
            return static_cast<std::uint8_t>(static_cast<bool>(f(x != 0, y != 0)));
          });
    } else {
      detail::map_kernel<T, T, T>(self, {&self, &other},
                                  [&](T x, T y) { return static_cast<T>(f(x, y)); });
    }
  });
}

// out[i] = f(a[i], b[i]) as bool, both operands compared in their promoted dtype (result_type).
template <typename F>
Tensor compare(std::string_view op, const Tensor& a_in, const Tensor& b_in, F f) {
  const Dtype dtype = result_type(a_in, b_in);
  const Shape shape = broadcast_shapes(op, a_in.shape(), b_in.shape());
  Tensor out = empty(shape, kBool);
  auto as_u8 = [](bool v) { return v; };
  if (is_broadcast_scalar(b_in, shape) || is_broadcast_scalar(a_in, shape)) {
    const bool b_scalar = is_broadcast_scalar(b_in, shape);
    const Tensor other = detail::broadcast_view(cast_plain(b_scalar ? a_in : b_in, dtype), shape);
    dispatch(dtype, [&]<typename T>() {
      const T c = (b_scalar ? b_in : a_in).template item<T>();
      if (b_scalar)
        detail::map_kernel<bool, T>(out, {&other}, [&, c](T x) { return as_u8(f(x, c)); });
      else
        detail::map_kernel<bool, T>(out, {&other}, [&, c](T y) { return as_u8(f(c, y)); });
    });
    return out;
  }
  const Tensor a = detail::broadcast_view(cast_plain(a_in, dtype), shape);
  const Tensor b = detail::broadcast_view(cast_plain(b_in, dtype), shape);
  dispatch(dtype, [&]<typename T>() {
    detail::map_kernel<bool, T, T>(out, {&a, &b}, [&](T x, T y) { return as_u8(f(x, y)); });
  });
  return out;
}

// out[i] = f(x[i]) as bool, for x of any dtype.
template <typename F>
Tensor predicate(const Tensor& x, F f) {
  Tensor out = empty(x.shape(), kBool);
  dispatch(x.dtype(), [&]<typename T>() {
    detail::map_kernel<bool, T>(out, {&x}, [&](T v) { return static_cast<bool>(f(v)); });
  });
  return out;
}

// c ? x : y without a branch (a bit mask), so loops over it vectorize and random conditions
// cost no mispredictions.
template <typename T>
T select(bool c, T x, T y) {
  if constexpr (std::is_same_v<T, bool>) {
    return c ? x : y;
  } else {
    using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                                 std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint8_t>>;
    const U mask = static_cast<U>(U(0) - static_cast<U>(c));
    return std::bit_cast<T>(
        static_cast<U>((std::bit_cast<U>(x) & mask) | (std::bit_cast<U>(y) & ~mask)));
  }
}

// out[i] = cond[i] ? a[i] : b[i] with three-way broadcasting, in `dtype`. cond is bool (a uint8
// cond is read as bool: non-zero is true).
inline Tensor where(std::string_view op, const Tensor& cond_in, const Tensor& a_in,
                    const Tensor& b_in, Dtype dtype) {
  const Shape shape =
      broadcast_shapes(op, broadcast_shapes(op, cond_in.shape(), a_in.shape()), b_in.shape());
  const Tensor cond = detail::broadcast_view(cast_plain(cond_in, kBool), shape);
  Tensor out = empty(shape, dtype);
  const bool a_scalar = is_broadcast_scalar(a_in, shape);
  const bool b_scalar = is_broadcast_scalar(b_in, shape);
  dispatch(dtype, [&]<typename T>() {
    if (a_scalar && b_scalar) {
      const T x = a_in.template item<T>(), y = b_in.template item<T>();
      detail::map_kernel<T, bool>(out, {&cond}, [x, y](bool c) { return select(c, x, y); });
    } else if (a_scalar || b_scalar) {
      const Tensor other = detail::broadcast_view(cast_plain(a_scalar ? b_in : a_in, dtype), shape);
      const T k = (a_scalar ? a_in : b_in).template item<T>();
      if (a_scalar)
        detail::map_kernel<T, bool, T>(out, {&cond, &other},
                                       [k](bool c, T y) { return select(c, k, y); });
      else
        detail::map_kernel<T, bool, T>(out, {&cond, &other},
                                       [k](bool c, T x) { return select(c, x, k); });
    } else {
      const Tensor a = detail::broadcast_view(cast_plain(a_in, dtype), shape);
      const Tensor b = detail::broadcast_view(cast_plain(b_in, dtype), shape);
      detail::map_kernel<T, bool, T, T>(out, {&cond, &a, &b},
                                        [](bool c, T x, T y) { return select(c, x, y); });
    }
  });
  return out;
}

}  // namespace tg::kernels
