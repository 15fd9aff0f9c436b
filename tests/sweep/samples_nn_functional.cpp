// Samples for the nn-functional ops: linear, softmax/log_softmax, the losses, dropout and
// batch_norm. Targets, class weights and running statistics are constants.
#include "sweep/op_table.h"
#include "tapegrad/core/random.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {
// One sample per line, like samples_core.cpp: the table reads better unwrapped.
// clang-format off
namespace {

namespace F = nn::functional;
using F::Reduction;

Tensor labels(std::vector<std::int64_t> values, Shape shape = {}) {
  return from_vector(values, shape);
}
Tensor values(std::vector<double> v, Shape shape = {}) { return from_vector(v, shape); }
// Probabilities in (0, 1) (inputs of binary_cross_entropy), requiring grad.
Tensor probs(const Shape& shape) { return sigmoid(constant(shape)).detach().requires_grad_(); }
// Class probabilities along dim 1 (soft targets), constant; made in make_inputs so that every
// evaluation of a sample sees the same targets.
Tensor soft_targets(const Shape& shape) { return F::softmax(constant(shape), 1).detach(); }

}  // namespace

TG_OP_SAMPLES(nn_linear_softmax) {
  return {
      {"linear", "bias", [](const In& x) { return F::linear(x[0], x[1], x[2]); }, [] { return In{rnd({4, 3}), rnd({5, 3}), rnd({5})}; }},
      {"linear", "no bias", [](const In& x) { return F::linear(x[0], x[1]); }, [] { return In{rnd({2, 3}), rnd({4, 3})}; }},
      {"linear", "3-d input", [](const In& x) { return F::linear(x[0], x[1], x[2]); }, [] { return In{rnd({2, 3, 4}), rnd({5, 4}), rnd({5})}; }},
      {"linear", "1-d input", [](const In& x) { return F::linear(x[0], x[1], x[2]); }, [] { return In{rnd({3}), rnd({2, 3}), rnd({2})}; }},
      {"linear", "non-contiguous input and weight", [](const In& x) { return F::linear(x[0], x[1], x[2]); }, [] { return In{noncontig({4, 3}), noncontig({5, 3}), rnd({5})}; }},
      {"linear", "constant weight", [](const In& x) { return F::linear(x[0], x[1], x[2]); }, [] { return In{rnd({3, 2}), constant({4, 2}), rnd({4})}; }},
      {"linear", "empty batch", [](const In& x) { return F::linear(x[0], x[1], x[2]); }, [] { return In{rnd({0, 3}), rnd({2, 3}), rnd({2})}; }},
      {"softmax", "last dim", [](const In& x) { return F::softmax(x[0], -1); }, [] { return In{rnd({3, 5})}; }},
      {"softmax", "dim 0", [](const In& x) { return F::softmax(x[0], 0); }, [] { return In{rnd({4, 3})}; }},
      {"softmax", "middle dim of 3-d", [](const In& x) { return F::softmax(x[0], 1); }, [] { return In{rnd({2, 3, 4})}; }},
      {"softmax", "non-contiguous", [](const In& x) { return F::softmax(x[0], 1); }, [] { return In{noncontig({3, 4})}; }},
      {"softmax", "size-1 dim", [](const In& x) { return F::softmax(x[0], 1) * x[0]; }, [] { return In{rnd({3, 1})}; }},
      {"softmax", "large logits", [](const In& x) { return F::softmax(x[0] * 20.0, 1); }, [] { return In{rnd({3, 4})}; }},
      {"softmax", "0-dim", [](const In& x) { return F::softmax(x[0], 0) * x[0]; }, [] { return In{rnd({})}; }},
      {"log_softmax", "last dim", [](const In& x) { return F::log_softmax(x[0], -1); }, [] { return In{rnd({3, 5})}; }},
      {"log_softmax", "dim 0 non-contiguous", [](const In& x) { return F::log_softmax(x[0], 0); }, [] { return In{noncontig({4, 3})}; }},
      {"log_softmax", "middle dim of 3-d", [](const In& x) { return F::log_softmax(x[0], 1); }, [] { return In{rnd({2, 3, 2})}; }},
      {"log_softmax", "large logits", [](const In& x) { return F::log_softmax(x[0] * 30.0, 1); }, [] { return In{rnd({2, 4})}; }},
      {"log_softmax", "empty rows", [](const In& x) { return F::log_softmax(x[0], 1); }, [] { return In{rnd({0, 3})}; }},
  };
}

TG_OP_SAMPLES(nn_cross_entropy) {
  return {
      {"cross_entropy", "class indices, mean", [](const In& x) { return F::cross_entropy(x[0], labels({1, 0, 4, 2})); }, [] { return In{rnd({4, 5})}; }},
      {"cross_entropy", "sum, class weights", [](const In& x) { return F::cross_entropy(x[0], labels({2, 0, 2}), {.reduction = Reduction::Sum, .weight = values({0.5, 2.0, 1.5})}); }, [] { return In{rnd({3, 3})}; }},
      {"cross_entropy", "none, [N, C, d]", [](const In& x) { return F::cross_entropy(x[0], labels({0, 2, 1, 1, 2, 0, 0, 1}, {2, 4}), {.reduction = Reduction::None}); }, [] { return In{rnd({2, 3, 4})}; }},
      {"cross_entropy", "ignore_index, weighted mean", [](const In& x) { return F::cross_entropy(x[0], labels({1, -100, 3, 0}), {.weight = values({1.0, 2.0, 0.5, 3.0})}); }, [] { return In{rnd({4, 4})}; }},
      {"cross_entropy", "label smoothing + weights + ignore_index", [](const In& x) { return F::cross_entropy(x[0], labels({1, 0, 7, 2}), {.ignore_index = 7, .label_smoothing = 0.2, .weight = values({1.0, 0.5, 2.0})}); }, [] { return In{rnd({4, 3})}; }},
      {"cross_entropy", "probability targets", [](const In& x) { return F::cross_entropy(x[0], x[1]); }, [] { return In{rnd({3, 4}), soft_targets({3, 4})}; }},
      {"cross_entropy", "probabilities, smoothing, weights, none, [N, C, d]", [](const In& x) { return F::cross_entropy(x[0], x[1], {.reduction = Reduction::None, .label_smoothing = 0.1, .weight = values({2.0, 1.0, 0.5})}); }, [] { return In{rnd({2, 3, 2}), soft_targets({2, 3, 2})}; }},
      {"cross_entropy", "probability targets requiring grad", [](const In& x) { return F::cross_entropy(x[0], x[1], {.reduction = Reduction::Sum, .label_smoothing = 0.2, .weight = values({1.0, 0.5, 2.0})}); }, [] { return In{rnd({2, 3}), soft_targets({2, 3}).requires_grad_()}; }},
      {"cross_entropy", "unbatched probability targets", [](const In& x) { return F::cross_entropy(x[0], x[1]); }, [] { return In{rnd({4}), F::softmax(constant({4}), 0).detach().requires_grad_()}; }},
      {"cross_entropy", "unbatched", [](const In& x) { return F::cross_entropy(x[0], labels({3}, {}).reshape({})); }, [] { return In{rnd({5})}; }},
      {"cross_entropy", "non-contiguous logits", [](const In& x) { return F::cross_entropy(x[0], labels({0, 3, 1})); }, [] { return In{noncontig({3, 4})}; }},
      {"cross_entropy", "large logits", [](const In& x) { return F::cross_entropy(x[0] * 25.0, labels({1, 2})); }, [] { return In{rnd({2, 3})}; }},
      {"cross_entropy", "empty batch, sum", [](const In& x) { return F::cross_entropy(x[0], labels({}, {0}), {.reduction = Reduction::Sum}); }, [] { return In{rnd({0, 3})}; }},
      {"nll_loss", "mean", [](const In& x) { return F::nll_loss(x[0], labels({2, 0, 1})); }, [] { return In{rnd({3, 4})}; }},
      {"nll_loss", "weights, ignore_index, none, [N, C, d]", [](const In& x) { return F::nll_loss(x[0], labels({0, 1, -1, 2}, {2, 2}), Reduction::None, -1, values({1.0, 3.0, 0.5})); }, [] { return In{rnd({2, 3, 2})}; }},
      {"nll_loss", "unbatched, sum", [](const In& x) { return F::nll_loss(x[0], labels({1}, {}).reshape({}), Reduction::Sum); }, [] { return In{noncontig({2, 2}).flatten()}; }},
  };
}

TG_OP_SAMPLES(nn_losses) {
  return {
      {"mse_loss", "mean", [](const In& x) { return F::mse_loss(x[0], x[1]); }, [] { return In{rnd({3, 4}), rnd({3, 4})}; }},
      {"mse_loss", "broadcast target, none", [](const In& x) { return F::mse_loss(x[0], x[1], Reduction::None); }, [] { return In{noncontig({3, 4}), rnd({4})}; }},
      {"l1_loss", "mean", [](const In& x) { return F::l1_loss(x[0], x[1]); }, [] { return In{away_from_zero({3, 4}), (constant({3, 4}) * 0.02).requires_grad_()}; }},
      {"mse_loss", "size-1 dims broadcast, sum", [](const In& x) { return F::mse_loss(x[0], x[1], Reduction::Sum); }, [] { return In{rnd({3, 1}), rnd({1, 4})}; }},
      {"l1_loss", "broadcast, none", [](const In& x) { return F::l1_loss(x[0], x[1], Reduction::None); }, [] { return In{away_from_zero({2, 3}), (constant({3}) * 0.02).requires_grad_()}; }},
      {"l1_loss", "sum, constant target", [](const In& x) { return F::l1_loss(x[0], x[1], Reduction::Sum); }, [] { return In{away_from_zero({5}), constant({5}) * 0.02}; }},
      {"huber_loss", "both sides of delta", [](const In& x) { return F::huber_loss(x[0], x[1], Reduction::Mean, 1.0); }, [] { return In{values({-2.5, -0.4, 0.3, 1.7, 3.0, -1.2}, {2, 3}).requires_grad_(), (constant({2, 3}) * 0.02).requires_grad_()}; }},
      {"huber_loss", "delta 0.5, none, broadcast", [](const In& x) { return F::huber_loss(x[0], x[1], Reduction::None, 0.5); }, [] { return In{values({-2.0, -0.2, 0.1, 0.9, 0.3, -1.5}, {3, 2}).requires_grad_(), values({0.05, -0.03}).requires_grad_()}; }},
      {"binary_cross_entropy", "mean", [](const In& x) { return F::binary_cross_entropy(x[0], x[1]); }, [] { return In{probs({3, 4}), probs({3, 4})}; }},
      {"binary_cross_entropy", "weights, sum, hard targets", [](const In& x) { return F::binary_cross_entropy(x[0], values({1, 0, 0, 1, 1, 0}, {2, 3}), Reduction::Sum, values({0.5, 2.0, 1.0})); }, [] { return In{probs({2, 3})}; }},
      {"binary_cross_entropy", "none, non-contiguous", [](const In& x) { return F::binary_cross_entropy(x[0], x[1], Reduction::None); }, [] { return In{sigmoid(noncontig({3, 2})).detach().requires_grad_(), probs({3, 2})}; }},
      {"binary_cross_entropy_with_logits", "mean", [](const In& x) { return F::binary_cross_entropy_with_logits(x[0], x[1]); }, [] { return In{rnd({3, 4}), probs({3, 4})}; }},
      {"binary_cross_entropy_with_logits", "pos_weight broadcast", [](const In& x) { return F::binary_cross_entropy_with_logits(x[0], x[1], Reduction::Sum, x[2]); }, [] { return In{rnd({2, 3}), probs({2, 3}), positive({3})}; }},
      {"binary_cross_entropy_with_logits", "large logits, none", [](const In& x) { return F::binary_cross_entropy_with_logits(x[0] * 30.0, x[1], Reduction::None); }, [] { return In{noncontig({2, 3}), probs({2, 3})}; }},
  };
}

TG_OP_SAMPLES(nn_dropout_batch_norm) {
  // Dropout reseeds inside fn so that every evaluation of a sample draws the same mask.
  return {
      {"dropout", "training p=0.3", [](const In& x) { manual_seed(11); return F::dropout(x[0], 0.3, true); }, [] { return In{rnd({4, 5})}; }},
      {"dropout", "training non-contiguous p=0.5", [](const In& x) { manual_seed(12); return F::dropout(x[0], 0.5, true); }, [] { return In{noncontig({3, 4})}; }},
      {"dropout", "p=1 drops everything", [](const In& x) { manual_seed(13); return F::dropout(x[0], 1.0, true) + x[0]; }, [] { return In{rnd({3})}; }},
      {"batch_norm", "training [N, C], affine", [](const In& x) { return F::batch_norm(x[0], zeros({3}, kFloat64), ones({3}, kFloat64), x[1], x[2], true); }, [] { return In{rnd({5, 3}), positive({3}), rnd({3})}; }},
      {"batch_norm", "training [N, C, L], no affine", [](const In& x) { return F::batch_norm(x[0], {}, {}, {}, {}, true); }, [] { return In{rnd({3, 2, 4})}; }},
      {"batch_norm", "training non-contiguous, eps 0.1", [](const In& x) { return F::batch_norm(x[0], {}, {}, x[1], {}, true, 0.1, 0.1); }, [] { return In{noncontig({4, 3}), rnd({3})}; }},
      {"batch_norm", "training, one channel, constant weight", [](const In& x) { return F::batch_norm(x[0], zeros({1}, kFloat64), ones({1}, kFloat64), x[1], x[2], true, 0.3); }, [] { return In{rnd({4, 1, 2}), constant({1}), rnd({1})}; }},
      {"batch_norm_eval", "eval [N, C], affine", [](const In& x) { return F::batch_norm(x[0], values({0.1, -0.2, 0.3}), values({0.5, 1.5, 2.0}), x[1], x[2], false); }, [] { return In{rnd({4, 3}), rnd({3}), rnd({3})}; }},
      {"batch_norm_eval", "eval [N, C, L], no bias", [](const In& x) { return F::batch_norm(x[0], values({0.0, 1.0}), values({1.0, 0.25}), x[1], {}, false); }, [] { return In{noncontig({2, 3, 2}).transpose(1, 2), rnd({2})}; }},
  };
}

// clang-format on
}  // namespace tg::sweep
