// Comparisons and logical ops: one bool kernel each, nothing recorded (no gradient exists).
#include "tapegrad/ops/comparison.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/reduction.h"

namespace tg {

Tensor eq(const Tensor& a, const Tensor& b) {
  return kernels::compare("eq", a, b, [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return kernels::compare("ne", a, b, [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return kernels::compare("lt", a, b, [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return kernels::compare("le", a, b, [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return kernels::compare("gt", a, b, [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return kernels::compare("ge", a, b, [](auto x, auto y) { return x >= y; });
}
Tensor eq(const Tensor& a, double b) { return eq(a, wrap_scalar(b, a, "eq")); }
Tensor ne(const Tensor& a, double b) { return ne(a, wrap_scalar(b, a, "ne")); }
Tensor lt(const Tensor& a, double b) { return lt(a, wrap_scalar(b, a, "lt")); }
Tensor le(const Tensor& a, double b) { return le(a, wrap_scalar(b, a, "le")); }
Tensor gt(const Tensor& a, double b) { return gt(a, wrap_scalar(b, a, "gt")); }
Tensor ge(const Tensor& a, double b) { return ge(a, wrap_scalar(b, a, "ge")); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return kernels::compare("logical_and", a, b, [](auto x, auto y) {
    return x != decltype(x)(0) && y != decltype(y)(0);
  });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return kernels::compare("logical_or", a, b, [](auto x, auto y) {
    return x != decltype(x)(0) || y != decltype(y)(0);
  });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return kernels::compare("logical_xor", a, b, [](auto x, auto y) {
    return (x != decltype(x)(0)) != (y != decltype(y)(0));
  });
}
Tensor logical_not(const Tensor& x) {
  return kernels::predicate(x, [](auto v) { return v == decltype(v)(0); });
}

namespace {
void check_bools(const char* op, const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dtype() == kBool && b.dtype() == kBool, "operator", op,
           ": tapegrad defines it on bool tensors only (logical), got ", a.dtype(), " and ",
           b.dtype(), "; use logical_and / logical_or / logical_xor for other dtypes");
}

// all/any: count the non-zeros (an int64 sum), then compare with the count wanted.
Tensor finish(const Tensor& r, const Tensor& x) { return x.dtype() == kUInt8 ? r.to(kUInt8) : r; }
}  // namespace

Tensor operator~(const Tensor& x) {
  TG_CHECK(x.dtype() == kBool, "operator~: tapegrad defines it on bool tensors only (logical ",
           "not), got ", x.dtype(), "; use logical_not for other dtypes");
  return logical_not(x);
}
Tensor operator&(const Tensor& a, const Tensor& b) {
  check_bools("&", a, b);
  return logical_and(a, b);
}
Tensor operator|(const Tensor& a, const Tensor& b) {
  check_bools("|", a, b);
  return logical_or(a, b);
}
Tensor operator^(const Tensor& a, const Tensor& b) {
  check_bools("^", a, b);
  return logical_xor(a, b);
}

// all/any along a dim: the dim check names the op the user called, not the sum inside.
static void check_reduce_dim(const char* op, const Tensor& x, std::int64_t dim) {
  const std::int64_t n = std::max<std::int64_t>(x.dim(), 1);
  TG_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " is out of range for a tensor of ", x.dim(),
           " dims (expected ", -n, " to ", n - 1, ")");
}

Tensor all(const Tensor& x) {
  TG_CHECK(x.defined(), "all: tensor is undefined");
  return finish(sum(ne(x.detach(), 0.0)) == static_cast<double>(x.numel()), x);
}
Tensor all(const Tensor& x, std::int64_t dim, bool keepdim) {
  TG_CHECK(x.defined(), "all: tensor is undefined");
  check_reduce_dim("all", x, dim);
  const Tensor count = sum(ne(x.detach(), 0.0), {dim}, keepdim);
  const std::int64_t d = dim < 0 ? dim + x.dim() : dim;  // valid: sum checked it
  return finish(count == static_cast<double>(x.dim() == 0 ? 1 : x.size(d)), x);
}
Tensor any(const Tensor& x) {
  TG_CHECK(x.defined(), "any: tensor is undefined");
  return finish(sum(ne(x.detach(), 0.0)) > 0.0, x);
}
Tensor any(const Tensor& x, std::int64_t dim, bool keepdim) {
  TG_CHECK(x.defined(), "any: tensor is undefined");
  check_reduce_dim("any", x, dim);
  return finish(sum(ne(x.detach(), 0.0), {dim}, keepdim) > 0.0, x);
}

Tensor isnan(const Tensor& x) {
  return kernels::predicate(x, [](auto v) {
    if constexpr (std::is_floating_point_v<decltype(v)>)
      return std::isnan(v);
    else
      return false;
  });
}
Tensor isinf(const Tensor& x) {
  return kernels::predicate(x, [](auto v) {
    if constexpr (std::is_floating_point_v<decltype(v)>)
      return std::isinf(v);
    else
      return false;
  });
}
Tensor isfinite(const Tensor& x) {
  return kernels::predicate(x, [](auto v) {
    if constexpr (std::is_floating_point_v<decltype(v)>)
      return std::isfinite(v);
    else
      return true;
  });
}

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, double b) { return le(a, b); }
Tensor operator>(const Tensor& a, double b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, b); }
// Scalar on the left: the mirrored comparison.
Tensor operator==(double a, const Tensor& b) { return eq(b, a); }
Tensor operator!=(double a, const Tensor& b) { return ne(b, a); }
Tensor operator<(double a, const Tensor& b) { return gt(b, a); }
Tensor operator<=(double a, const Tensor& b) { return ge(b, a); }
Tensor operator>(double a, const Tensor& b) { return lt(b, a); }
Tensor operator>=(double a, const Tensor& b) { return le(b, a); }

}  // namespace tg
