// Comparisons and logical ops: one uint8 kernel each, nothing recorded (no gradient exists).
#include "tapegrad/ops/comparison.h"

#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"

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
