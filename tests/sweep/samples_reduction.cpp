// Samples for the reductions beyond sum/mean: prod, max/min, var/std, logsumexp, norm, cumsum.
// max/min samples are tie-free (random normals) unless a sample checks ties on purpose.
#include "sweep/op_table.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {
namespace {
Tensor leaf(const Tensor& t) { return t.detach().clone().requires_grad_(); }
Tensor values(const std::vector<double>& v, const Shape& shape) {
  return from_vector(v).reshape(shape).detach().requires_grad_();
}
}  // namespace

TG_OP_SAMPLES(reduction_prod_max) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"prod", "all", [](const In& x) { return prod(x[0]); }, [] { return In{rnd({2, 3})}; }},
      {"prod", "dim keepdim", [](const In& x) { return prod(x[0], {1}, true); }, [] { return In{rnd({3, 4})}; }},
      {"prod", "dims non-contiguous", [](const In& x) { return prod(x[0], {0, 2}); }, [] { return In{noncontig({3, 2, 2})}; }},
      {"prod", "empty dim", [](const In& x) { return prod(x[0], {0}); }, [] { return In{rnd({0, 3})}; }},
      {"prod", "one zero per block", [](const In& x) { return prod(x[0], {1}); }, [] { return In{values({0.5, 0.0, -1.5, 2.0, 1.2, 0.7}, {2, 3})}; }},
      // Two zeros in a block: the first derivative is exact, but the second derivative between the
      // two zero entries (the product of the rest) is not modelled, so no gradgradcheck.
      {"prod", "two zeros in a block", [](const In& x) { return prod(x[0]); }, [] { return In{values({0.0, 1.5, 0.0, -0.8}, {4})}; }, false},
      {"amax", "all (max)", [](const In& x) { return max(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"amax", "dims keepdim", [](const In& x) { return amax(x[0], {0, 2}, true); }, [] { return In{rnd({2, 3, 4})}; }},
      {"amax", "non-contiguous", [](const In& x) { return amax(x[0], {-1}); }, [] { return In{noncontig({3, 5})}; }},
      // Two-way ties: the central difference sees 1/2 per tied element, which is the even split.
      {"amax", "two-way tie", [](const In& x) { return amax(x[0], {1}); }, [] { return In{values({1.0, 0.3, 1.0, -2.0, 0.5, 0.1}, {2, 3})}; }, false},
      {"amin", "all (min)", [](const In& x) { return min(x[0]); }, [] { return In{noncontig({2, 3})}; }},
      {"amin", "dim", [](const In& x) { return amin(x[0], {0}); }, [] { return In{rnd({4, 3})}; }},
      {"max", "dim values", [](const In& x) { return max(x[0], 1).values; }, [] { return In{rnd({3, 4})}; }},
      {"max", "dim keepdim, non-contiguous", [](const In& x) { return max(x[0], 0, true).values; }, [] { return In{noncontig({4, 3})}; }},
      {"max", "negative dim, size-1 dim", [](const In& x) { return max(x[0], -1).values; }, [] { return In{rnd({2, 3, 1})}; }},
      {"max", "0-dim", [](const In& x) { return max(x[0], 0).values; }, [] { return In{rnd({})}; }},
      {"min", "dim values", [](const In& x) { return min(x[0], 0).values; }, [] { return In{rnd({3, 4})}; }},
      {"min", "middle dim keepdim", [](const In& x) { return min(x[0], 1, true).values; }, [] { return In{noncontig({2, 4, 3})}; }},
  };
  // clang-format on
}

TG_OP_SAMPLES(reduction_statistics) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"var", "all", [](const In& x) { return var(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"var", "dim, correction 0", [](const In& x) { return var(x[0], {1}, 0.0); }, [] { return In{rnd({3, 4})}; }},
      {"var", "dims keepdim, non-contiguous", [](const In& x) { return var(x[0], {0, 2}, 1.0, true); }, [] { return In{noncontig({3, 2, 4})}; }},
      {"std", "all", [](const In& x) { return std(x[0]); }, [] { return In{rnd({5})}; }},
      {"std", "dim", [](const In& x) { return std(x[0], {0}); }, [] { return In{noncontig({4, 3})}; }},
      {"logsumexp", "all", [](const In& x) { return logsumexp(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"logsumexp", "dim keepdim", [](const In& x) { return logsumexp(x[0], {1}, true); }, [] { return In{rnd({2, 5})}; }},
      {"logsumexp", "large logits, non-contiguous", [](const In& x) { return logsumexp(x[0] * 30.0 + 1000.0, {0}); }, [] { return In{noncontig({4, 3})}; }},
      {"logsumexp", "empty kept dim", [](const In& x) { return logsumexp(x[0], {1}); }, [] { return In{rnd({0, 3})}; }},
      {"norm", "p=2 all", [](const In& x) { return norm(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"norm", "p=2 dim keepdim", [](const In& x) { return norm(x[0], 2.0, {1}, true); }, [] { return In{noncontig({3, 4})}; }},
      {"norm", "p=3 dim", [](const In& x) { return norm(x[0], 3.0, {0}); }, [] { return In{away_from_zero({4, 3})}; }},
      {"norm", "p=1.5", [](const In& x) { return norm(x[0], 1.5); }, [] { return In{away_from_zero({5})}; }},
      {"norm", "p=0.5", [](const In& x) { return norm(x[0], 0.5, {1}); }, [] { return In{away_from_zero({2, 3})}; }},
      // A zero row: the central difference of |x| at 0 is 0, the subgradient the backward gives.
      // The first derivative jumps at 0, so no second-order check.
      {"norm", "p=2 with a zero row", [](const In& x) { return norm(x[0], 2.0, {1}); }, [] { return In{values({0, 0, 0, 0.5, -1, 2}, {2, 3})}; }, false},
      {"abs", "norm p=1", [](const In& x) { return norm(x[0], 1.0, {1}); }, [] { return In{away_from_zero({3, 4})}; }},
      {"amax", "norm p=inf", [](const In& x) { return norm(x[0], kInf); }, [] { return In{away_from_zero({3, 4})}; }},
      {"cumsum", "dim 0", [](const In& x) { return cumsum(x[0], 0); }, [] { return In{rnd({4, 3})}; }},
      {"cumsum", "last dim, non-contiguous", [](const In& x) { return cumsum(x[0], -1); }, [] { return In{noncontig({3, 5})}; }},
      {"cumsum", "middle dim, size-1", [](const In& x) { return cumsum(x[0], 1) * x[1]; }, [] { return In{rnd({2, 1, 3}), rnd({3})}; }},
      {"cumsum", "0-dim", [](const In& x) { return cumsum(x[0], 0); }, [] { return In{rnd({})}; }},
      {"cumsum", "empty", [](const In& x) { return cumsum(x[0], 1); }, [] { return In{rnd({0, 4})}; }},
      {"sum", "size-1 dim keepdim", [](const In& x) { return sum(x[0], {1}, true); }, [] { return In{leaf(rnd({3, 1}))}; }},
  };
  // clang-format on
}

}  // namespace tg::sweep
