// Samples for the first ops: arithmetic, the core activations, sum/mean, matmul and the views.
#include "sweep/op_table.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {

TG_OP_SAMPLES(core_elementwise) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"add", "plain", [](const In& x) { return x[0] + x[1]; }, [] { return In{rnd({3, 4}), rnd({3, 4})}; }},
      {"add", "broadcast", [](const In& x) { return add(x[0], x[1], 0.5); }, [] { return In{rnd({2, 3, 4}), rnd({4})}; }},
      {"add", "non-contiguous + scalar", [](const In& x) { return x[0] + 1.5; }, [] { return In{noncontig({3, 4})}; }},
      {"sub", "broadcast both", [](const In& x) { return x[0] - x[1]; }, [] { return In{rnd({3, 1}), rnd({1, 4})}; }},
      {"sub", "scalar first", [](const In& x) { return 2.0 - x[0]; }, [] { return In{rnd({5})}; }},
      {"mul", "broadcast", [](const In& x) { return x[0] * x[1]; }, [] { return In{rnd({2, 3}), rnd({3})}; }},
      {"mul", "same input twice", [](const In& x) { return x[0] * x[0]; }, [] { return In{noncontig({3, 2})}; }},
      {"div", "broadcast", [](const In& x) { return x[0] / x[1]; }, [] { return In{rnd({2, 3}), positive({3})}; }},
      {"div", "scalar numerator", [](const In& x) { return 1.0 / x[0]; }, [] { return In{positive({4})}; }},
      {"add_scalar", "tensor - scalar, non-contiguous", [](const In& x) { return x[0] - 0.75; }, [] { return In{noncontig({3, 2})}; }},
      {"rsub_scalar", "scalar - tensor, broadcast view", [](const In& x) { return 1.0 - x[0].expand({2, 3}); }, [] { return In{rnd({3})}; }},
      {"mul_scalar", "scalar * tensor", [](const In& x) { return -2.5 * x[0]; }, [] { return In{rnd({2, 3})}; }},
      {"mul_scalar", "0-dim", [](const In& x) { return x[0] * 3.0; }, [] { return In{rnd({})}; }},
      {"div_scalar", "tensor / scalar, empty", [](const In& x) { return x[0] / 4.0; }, [] { return In{rnd({0, 2})}; }},
      {"div_scalar", "tensor / scalar", [](const In& x) { return x[0] / -0.3; }, [] { return In{noncontig({2, 3})}; }},
      {"neg", "plain", [](const In& x) { return -x[0]; }, [] { return In{noncontig({2, 3})}; }},
      {"exp", "plain", [](const In& x) { return exp(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"exp", "non-contiguous", [](const In& x) { return exp(x[0]); }, [] { return In{noncontig({3, 4})}; }},
      {"log", "positive", [](const In& x) { return log(x[0]); }, [] { return In{positive({3, 4})}; }},
      {"tanh", "plain", [](const In& x) { return tanh(x[0]); }, [] { return In{rnd({2, 5})}; }},
      {"tanh", "0-dim", [](const In& x) { return tanh(x[0]); }, [] { return In{rnd({})}; }},
      {"sigmoid", "plain", [](const In& x) { return sigmoid(x[0]); }, [] { return In{noncontig({3, 2})}; }},
      {"relu", "away from 0", [](const In& x) { return relu(x[0]); }, [] { return In{away_from_zero({4, 3})}; }},
      {"pow", "square", [](const In& x) { return pow(x[0], 2.0); }, [] { return In{rnd({3, 3})}; }},
      {"pow", "fractional", [](const In& x) { return pow(x[0], 1.5); }, [] { return In{positive({3, 2})}; }},
      {"pow", "negative exponent", [](const In& x) { return pow(x[0], -2.0); }, [] { return In{positive({4})}; }},
  };
  // clang-format on
}

TG_OP_SAMPLES(core_reduction) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"sum", "all", [](const In& x) { return sum(x[0]); }, [] { return In{rnd({3, 4})}; }},
      {"sum", "dim keepdim", [](const In& x) { return sum(x[0], {1}, true); }, [] { return In{rnd({2, 3, 4})}; }},
      {"sum", "dims non-contiguous", [](const In& x) { return sum(x[0], {0, -1}); }, [] { return In{noncontig({3, 4, 2})}; }},
      {"sum", "empty dim", [](const In& x) { return sum(x[0], {0}); }, [] { return In{rnd({0, 3})}; }},
      {"mean", "dim", [](const In& x) { return mean(x[0], {0}); }, [] { return In{rnd({4, 3})}; }},
      {"mean", "all", [](const In& x) { return mean(x[0]); }, [] { return In{noncontig({2, 5})}; }},
  };
  // clang-format on
}

TG_OP_SAMPLES(core_linalg) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"matmul", "2d", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{rnd({3, 4}), rnd({4, 2})}; }},
      {"matmul", "transposed views", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{noncontig({3, 4}), noncontig({4, 5})}; }},
      {"matmul", "1d @ 1d", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{rnd({4}), rnd({4})}; }},
      {"matmul", "1d @ 2d", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{rnd({3}), rnd({3, 2})}; }},
      {"matmul", "2d @ 1d", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{rnd({2, 3}), rnd({3})}; }},
      {"matmul", "batched broadcast", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{rnd({2, 1, 3, 4}), rnd({3, 4, 2})}; }},
      {"matmul", "3d @ 2d", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{rnd({2, 3, 4}), rnd({4, 2})}; }},
      {"matmul", "constant operand", [](const In& x) { return matmul(x[0], x[1]); }, [] { return In{constant({2, 3}), rnd({3, 2})}; }},
  };
  // clang-format on
}

TG_OP_SAMPLES(core_shape) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"view", "reshape", [](const In& x) { return x[0].reshape({4, 3}) * x[1]; }, [] { return In{rnd({3, 4}), rnd({3})}; }},
      {"view", "reshape of non-contiguous (copies)", [](const In& x) { return x[0].reshape({-1}); }, [] { return In{noncontig({3, 4})}; }},
      {"view", "flatten", [](const In& x) { return x[0].flatten(1); }, [] { return In{rnd({2, 3, 2})}; }},
      {"unsqueeze", "middle", [](const In& x) { return x[0].unsqueeze(1) * x[1]; }, [] { return In{rnd({3, 2}), rnd({4, 1})}; }},
      {"view", "squeeze", [](const In& x) { return x[0].squeeze(); }, [] { return In{rnd({3, 1, 2})}; }},
      {"permute", "3d", [](const In& x) { return x[0].permute({2, 0, 1}) * 1.0; }, [] { return In{rnd({2, 3, 4})}; }},
      {"permute", "transpose", [](const In& x) { return x[0].transpose(0, 1).contiguous(); }, [] { return In{rnd({2, 3})}; }},
      {"permute", "t", [](const In& x) { return x[0].t(); }, [] { return In{rnd({2, 3})}; }},
      {"expand", "new dims", [](const In& x) { return x[0].expand({2, 3, 4}) * 1.0; }, [] { return In{rnd({3, 1})}; }},
      {"slice", "step", [](const In& x) { return x[0].slice(1, 1, 5, 2); }, [] { return In{rnd({3, 6})}; }},
      {"slice", "narrow negative start", [](const In& x) { return x[0].narrow(0, -2, 2); }, [] { return In{rnd({4, 2})}; }},
      {"select", "row", [](const In& x) { return x[0].select(1, -1); }, [] { return In{noncontig({3, 4})}; }},
      {"contiguous", "transposed", [](const In& x) { return x[0].contiguous(); }, [] { return In{noncontig({2, 3})}; }},
      {"clone", "plain", [](const In& x) { return x[0].clone(); }, [] { return In{rnd({2, 2})}; }},
      {"to_dtype", "float64 -> float32 -> float64", [](const In& x) { return x[0].to(kFloat32).to(kFloat64) * 1.0; }, [] { return In{rnd({3})}; }, true, 1e-2},
  };
  // clang-format on
}

}  // namespace tg::sweep
