// In-place ops under autograd: on a non-leaf (the op's own node) and through views (the base's
// history rewritten by CopySlices, the view's grad_fn re-derived as as_strided).
#include "sweep/op_table.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {

namespace {
// a = x * 1 (a non-leaf that may be modified in place), then f(a).
template <typename F>
Tensor on_copy(const Tensor& x, F f) {
  Tensor a = x * 1.0;
  f(a);
  return a;
}
}  // namespace

TG_OP_SAMPLES(inplace) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"mul_", "by a broadcast tensor", [](const In& x) { return on_copy(x[0], [&](Tensor& a) { a.mul_(x[1]); }); }, [] { return In{rnd({2, 3}), rnd({3})}; }},
      {"mul_", "by a scalar, non-contiguous", [](const In& x) { return on_copy(x[0], [](Tensor& a) { a.mul_(-1.5); }); }, [] { return In{noncontig({3, 2})}; }},
      {"mul_", "by a constant", [](const In& x) { return on_copy(x[0], [&](Tensor& a) { a.mul_(x[1]); }); }, [] { return In{rnd({2, 3}), constant({2, 3})}; }},
      {"div_", "by a tensor", [](const In& x) { return on_copy(x[0], [&](Tensor& a) { a.div_(x[1]); }); }, [] { return In{rnd({2, 3}), positive({2, 3})}; }},
      {"div_", "only the divisor needs grad", [](const In& x) { return on_copy(x[0], [&](Tensor& a) { a.div_(x[1]); }); }, [] { return In{constant({3}), positive({3})}; }},
      {"fill_", "then used", [](const In& x) { return on_copy(x[0], [](Tensor& a) { a.fill_(2.0); }) * x[0]; }, [] { return In{rnd({2, 3})}; }},
      {"copy_", "broadcast source", [](const In& x) { return on_copy(x[0], [&](Tensor& a) { a.copy_(x[1]); }) * x[0]; }, [] { return In{rnd({2, 3}), rnd({3})}; }},
      {"CopySlices", "mul_ on a row", [](const In& x) { return on_copy(x[0], [&](Tensor& a) { a.select(0, 1).mul_(x[1]); }); }, [] { return In{rnd({3, 4}), rnd({4})}; }},
      {"CopySlices", "div_ on a strided column, then the view", [](const In& x) { Tensor a = x[0] * 1.0; Tensor v = a.slice(1, 1, 4, 2); v.div_(x[1]); return v * a.sum(); }, [] { return In{noncontig({3, 4}), positive({3, 1})}; }},
      {"CopySlices", "copy_ and fill_ into views of zeros", [](const In& x) { Tensor a = zeros({3, 4}, kFloat64); a[0].copy_(x[1]); a.t()[2].fill_(1.0); a.slice(0, 1, 3).add_(x[0].slice(0, 0, 2)); return a * a; }, [] { return In{rnd({3, 4}), rnd({4})}; }},
      {"as_strided", "sibling view after an in-place op", [](const In& x) { Tensor a = x[0] * 1.0; Tensor v0 = a[0]; a[1].mul_(x[1]); return v0 * a[1]; }, [] { return In{rnd({2, 3}), rnd({3})}; }},
  };
  // clang-format on
}

}  // namespace tg::sweep
