#include "tapegrad/core/shape.h"

#include <algorithm>
#include <ostream>
#include <sstream>

#include "tapegrad/core/error.h"

namespace tg {

std::int64_t checked_add(std::string_view op, std::string_view what, std::int64_t a,
                         std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw Error(detail::concat(op, ": ", what, " overflows int64 (", a, " + ", b, ")"));
  return r;
}

std::int64_t checked_mul(std::string_view op, std::string_view what, std::int64_t a,
                         std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw Error(detail::concat(op, ": ", what, " overflows int64 (", a, " * ", b, ")"));
  return r;
}

std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  for (auto s : shape)
    if (__builtin_mul_overflow(n, s, &n))
      throw Error(detail::concat("numel: shape ", shape_str(shape), " has too many elements"));
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t s = 1;
  for (auto i = static_cast<std::int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    // The last product is never used as a stride: do not let it overflow either.
    if (i > 0)
      s = checked_mul("contiguous_strides", "stride", s, std::max<std::int64_t>(shape[i], 1));
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape_str(shape); }

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TG_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  check_shape(op, out);  // [2^40, 1] with [1, 2^40] is too many elements
  return out;
}

std::int64_t wrap_dim(std::string_view op, std::int64_t dim, std::int64_t ndim) {
  const std::int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  TG_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor of ", ndim,
           " dims (expected ", lo, " to ", hi, ")");
  return dim < 0 ? dim + std::max<std::int64_t>(ndim, 1) : dim;
}

void check_shape(std::string_view op, const Shape& shape, std::int64_t element_size) {
  // The product of the sizes with 0 counted as 1 must fit: contiguous strides are built from it
  // even when the tensor is empty.
  std::int64_t n = 1;
  for (auto s : shape) {
    TG_CHECK(s >= 0, op, ": negative size ", s, " in shape ", shape_str(shape));
    if (__builtin_mul_overflow(n, std::max<std::int64_t>(s, 1), &n))
      throw Error(detail::concat(op, ": shape ", shape_str(shape), " has too many elements"));
  }
  if (element_size > 1 && __builtin_mul_overflow(numel_of(shape), element_size, &n))
    throw Error(detail::concat(op, ": shape ", shape_str(shape), " of ", element_size,
                               "-byte elements needs more bytes than an int64 can count"));
}

}  // namespace tg
