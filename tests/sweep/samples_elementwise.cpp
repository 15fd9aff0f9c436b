// Samples for the elementwise family: unary math, activations, powers and the selection ops.
// Inputs stay inside each op's domain and away from kinks (|x| >= 0.2 around 0 for abs/relu-like
// ops), except where a sample checks the value a kink takes on purpose.
#include "sweep/op_table.h"
#include "tapegrad/ops/activation.h"
#include "tapegrad/ops/comparison.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {
namespace {
// A leaf that requires grad, made from any float64 tensor expression.
Tensor leaf(const Tensor& t) { return t.detach().clone().requires_grad_(); }
Tensor scaled(const Tensor& t, double a, double b = 0.0) { return leaf(t.detach() * a + b); }
}  // namespace

TG_OP_SAMPLES(elementwise_math) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"abs", "away from 0", [](const In& x) { return abs(x[0]); }, [] { return In{away_from_zero({3, 4})}; }},
      {"abs", "non-contiguous", [](const In& x) { return abs(x[0]); }, [] { return In{scaled(noncontig({3, 2}), 1.0, 3.0)}; }},
      {"abs", "expanded input (stride 0)", [](const In& x) { return abs(x[0].expand({3, 4})); }, [] { return In{away_from_zero({4})}; }},
      {"abs", "empty", [](const In& x) { return abs(x[0]); }, [] { return In{rnd({0, 3})}; }},
      {"expm1", "plain", [](const In& x) { return expm1(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"expm1", "near 0, non-contiguous", [](const In& x) { return expm1(x[0]); }, [] { return In{scaled(noncontig({2, 3}), 1e-3)}; }},
      {"log1p", "x > -0.5", [](const In& x) { return log1p(x[0]); }, [] { return In{scaled(positive({3, 4}), 1.0, -0.49)}; }},
      {"log1p", "near 0, non-contiguous", [](const In& x) { return log1p(x[0]); }, [] { return In{scaled(noncontig({3, 2}), 1e-3)}; }},
      {"sqrt", "positive", [](const In& x) { return sqrt(x[0]); }, [] { return In{positive({3, 4})}; }},
      {"sqrt", "size-1 dims", [](const In& x) { return sqrt(x[0]) * x[1]; }, [] { return In{positive({3, 1}), rnd({1, 4})}; }},
      {"rsqrt", "positive", [](const In& x) { return rsqrt(x[0]); }, [] { return In{positive({5})}; }},
      {"rsqrt", "non-contiguous", [](const In& x) { return rsqrt(x[0]); }, [] { return In{scaled(noncontig({2, 3}), 0.0, 1.5)}; }},
      {"square", "plain", [](const In& x) { return square(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"square", "non-contiguous", [](const In& x) { return square(x[0]); }, [] { return In{noncontig({4, 2})}; }},
      {"reciprocal", "both signs", [](const In& x) { return reciprocal(x[0]); }, [] { return In{away_from_zero({3, 4})}; }},
      {"reciprocal", "non-contiguous", [](const In& x) { return reciprocal(x[0]); }, [] { return In{scaled(noncontig({2, 2}), 0.1, 2.0)}; }},
      {"sin", "plain", [](const In& x) { return sin(x[0]); }, [] { return In{scaled(rnd({3, 4}), 3.0)}; }},
      {"sin", "non-contiguous", [](const In& x) { return sin(x[0]); }, [] { return In{noncontig({2, 3})}; }},
      {"cos", "plain", [](const In& x) { return cos(x[0]); }, [] { return In{scaled(rnd({3, 4}), 3.0)}; }},
      {"cos", "0-dim", [](const In& x) { return cos(x[0]); }, [] { return In{rnd({})}; }},
      {"erf", "plain", [](const In& x) { return erf(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"erf", "non-contiguous", [](const In& x) { return erf(x[0]); }, [] { return In{noncontig({3, 2})}; }},
      {"exp", "empty", [](const In& x) { return exp(x[0]); }, [] { return In{rnd({2, 0})}; }},
      {"log", "non-contiguous", [](const In& x) { return log(x[0]); }, [] { return In{scaled(noncontig({2, 3}), 0.1, 1.0)}; }},
      {"sigmoid", "large magnitude", [](const In& x) { return sigmoid(x[0]); }, [] { return In{scaled(rnd({6}), 10.0)}; }},
      {"tanh", "non-contiguous", [](const In& x) { return tanh(x[0]); }, [] { return In{noncontig({3, 2})}; }},
      {"relu", "non-contiguous", [](const In& x) { return relu(x[0]); }, [] { return In{leaf(away_from_zero({2, 3}).t())}; }},
  };
  // clang-format on
}

TG_OP_SAMPLES(elementwise_activation) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"leaky_relu", "default slope", [](const In& x) { return leaky_relu(x[0]); }, [] { return In{away_from_zero({3, 4})}; }},
      {"leaky_relu", "slope 0.2, non-contiguous", [](const In& x) { return leaky_relu(x[0], 0.2); }, [] { return In{leaf(away_from_zero({4, 2}).t())}; }},
      {"relu6", "both kinks", [](const In& x) { return relu6(x[0]); }, [] { return In{scaled(away_from_zero({4, 5}), 5.0, 3.0)}; }},
      {"hardtanh", "[-1, 1]", [](const In& x) { return hardtanh(x[0]); }, [] { return In{scaled(away_from_zero({3, 4}), 2.0)}; }},
      {"elu", "alpha 1", [](const In& x) { return elu(x[0]); }, [] { return In{away_from_zero({3, 4})}; }},
      {"elu", "alpha 0.5, non-contiguous", [](const In& x) { return elu(x[0], 0.5); }, [] { return In{leaf(away_from_zero({3, 2}).t())}; }},
      {"gelu", "plain", [](const In& x) { return gelu(x[0]); }, [] { return In{scaled(rnd({3, 4}), 2.0)}; }},
      {"gelu", "non-contiguous", [](const In& x) { return gelu(x[0]); }, [] { return In{noncontig({2, 3})}; }},
      {"silu", "plain", [](const In& x) { return silu(x[0]); }, [] { return In{scaled(rnd({3, 4}), 3.0)}; }},
      {"silu", "non-contiguous", [](const In& x) { return silu(x[0]); }, [] { return In{noncontig({3, 2})}; }},
      {"softplus", "default", [](const In& x) { return softplus(x[0]); }, [] { return In{scaled(rnd({3, 4}), 3.0)}; }},
      {"softplus", "beta 2, threshold 1 (both branches)", [](const In& x) { return softplus(x[0], 2.0, 1.0); }, [] { return In{scaled(away_from_zero({4, 3}), 2.0, 0.5)}; }},
      {"softplus", "non-contiguous", [](const In& x) { return softplus(x[0]); }, [] { return In{noncontig({2, 3})}; }},
  };
  // clang-format on
}

TG_OP_SAMPLES(elementwise_binary) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"pow_tensor", "positive base", [](const In& x) { return pow(x[0], x[1]); }, [] { return In{positive({3, 4}), rnd({3, 4})}; }},
      {"pow_tensor", "broadcast", [](const In& x) { return pow(x[0], x[1]); }, [] { return In{positive({2, 1, 3}), rnd({4, 1})}; }},
      {"pow_tensor", "non-contiguous base", [](const In& x) { return pow(x[0], x[1]); }, [] { return In{scaled(noncontig({3, 2}), 0.1, 1.5), rnd({2})}; }},
      {"pow_tensor", "constant exponent", [](const In& x) { return pow(x[0], x[1]); }, [] { return In{positive({4}), constant({4})}; }},
      {"pow_tensor", "scalar base", [](const In& x) { return pow(2.5, x[0]); }, [] { return In{rnd({3, 2})}; }},
      {"pow_tensor", "zero base, positive exponent", [](const In& x) { return pow(x[0].detach() * 0.0, x[1]) + pow(x[0], 2.0); }, [] { return In{rnd({3}), positive({3})}; }},
      {"maximum", "plain", [](const In& x) { return maximum(x[0], x[1]); }, [] { return In{rnd({3, 4}), rnd({3, 4})}; }},
      {"maximum", "broadcast", [](const In& x) { return maximum(x[0], x[1]); }, [] { return In{rnd({2, 3, 1}), rnd({4})}; }},
      {"maximum", "non-contiguous vs scalar", [](const In& x) { return maximum(x[0], wrap_scalar(0.1, x[0])); }, [] { return In{scaled(away_from_zero({3, 2}), 1.0, 0.1)}; }},
      // At a tie the central difference is 1/2 per side, which is what the split gives. The
      // first derivative jumps there, so no second-order check.
      {"maximum", "ties split half/half", [](const In& x) { return maximum(x[0], x[1]); }, [] { Tensor a = rnd({2, 3}); return In{a, leaf(a)}; }, false},
      {"minimum", "plain", [](const In& x) { return minimum(x[0], x[1]); }, [] { return In{rnd({3, 4}), rnd({3, 4})}; }},
      {"minimum", "broadcast, size-1 dims", [](const In& x) { return minimum(x[0], x[1]); }, [] { return In{rnd({3, 1}), rnd({1, 4})}; }},
      {"minimum", "ties split half/half", [](const In& x) { return minimum(x[0], x[1]); }, [] { Tensor a = rnd({4}); return In{a, leaf(a)}; }, false},
      {"minimum", "empty", [](const In& x) { return minimum(x[0], x[1]); }, [] { return In{rnd({0, 3}), rnd({3})}; }},
      {"where", "plain", [](const In& x) { return where(x[2] > 0.0, x[0], x[1]); }, [] { return In{rnd({3, 4}), rnd({3, 4}), constant({3, 4})}; }},
      {"where", "broadcast condition and operands", [](const In& x) { return where(x[2] > 0.0, x[0], x[1]); }, [] { return In{rnd({3, 1}), rnd({4}), constant({2, 3, 4})}; }},
      {"where", "non-contiguous, scalar branch", [](const In& x) { return where(x[1] < 0.0, x[0], 0.5); }, [] { return In{noncontig({3, 4}), constant({3, 4})}; }},
      {"where", "scalar first branch", [](const In& x) { return where(x[1] < 0.0, -1.0, x[0]); }, [] { return In{rnd({5}), constant({5})}; }},
      {"clamp", "min and max", [](const In& x) { return clamp(x[0], -0.5, 0.5); }, [] { return In{rnd({4, 5})}; }},
      {"clamp", "min only, non-contiguous", [](const In& x) { return clamp(x[0], 0.1, std::nullopt); }, [] { return In{noncontig({3, 4})}; }},
      {"clamp", "max only", [](const In& x) { return clamp(x[0], std::nullopt, 0.3); }, [] { return In{rnd({6})}; }},
  };
  // clang-format on
}

// Mixed dtypes (issue 12): the float64 operand is promoted with an int64, bool or float32 one
// (PyTorch's result_type) and gets its gradient back in its own dtype.
TG_OP_SAMPLES(mixed_dtype) {
  // clang-format off
  return {
      {"mul", "float64 x int64 (promotes to float64)", [](const In& x) { return x[0] * tensor({1, -2, 3}, kInt64); }, [] { return In{rnd({2, 3})}; }},
      {"add", "float64 + float32 0-dim (stays float64)", [](const In& x) { return x[0] + scalar_tensor(0.5, kFloat32); }, [] { return In{rnd({3})}; }},
      {"add", "bool + float64", [](const In& x) { return (x[0] > 0.0) + x[1]; }, [] { return In{constant({3}), rnd({3})}; }},
      {"div", "int64 / float64", [](const In& x) { return tensor({1, 2, 3}, kInt64) / x[0]; }, [] { return In{scaled(positive({3}), 1.0, 0.5)}; }},
      {"maximum", "float64 vs int64", [](const In& x) { return maximum(x[0], tensor({0, 5, -5}, kInt64)); }, [] { return In{rnd({3})}; }},
      {"pow_tensor", "float64 base, int64 exponent", [](const In& x) { return pow(x[0], tensor({1, 2, 3}, kInt64)); }, [] { return In{scaled(positive({3}), 1.0, 0.5)}; }},
      {"where", "float64 and int64 operands, bool condition", [](const In& x) { return where(x[1] > 0.0, x[0], tensor({7, 8, 9}, kInt64)); }, [] { return In{rnd({3}), constant({3})}; }},
      {"cat", "float64 with int64 and bool", [](const In& x) { return cat({x[0], tensor({4, 5}, kInt64), tensor({1, 0}, kFloat64).to(kBool)}); }, [] { return In{rnd({3})}; }},
  };
  // clang-format on
}

}  // namespace tg::sweep
