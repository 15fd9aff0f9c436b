// Elementwise losses: mse, l1, huber, binary cross entropy (on probabilities and on logits).
// mse and l1 are composed of differentiable ops; the others have a fused forward kernel and a
// backward written in differentiable ops, so every loss differentiates twice.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/iterate.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

namespace {

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None:
      return loss;
    case Reduction::Sum:
      return sum(loss);
    case Reduction::Mean:
      return mean(loss);  // an empty loss gives NaN, as in PyTorch
  }
  throw Error("loss: unknown reduction");
}

void check_pair(const char* op, const Tensor& input, const Tensor& target) {
  TG_CHECK(input.defined() && target.defined(), op, ": input and target must be defined");
  TG_CHECK(input.is_floating_point() && target.is_floating_point(), op,
           ": expected floating-point input and target, got ", input.dtype(), " and ",
           target.dtype());
  broadcast_shapes(op, input.shape(), target.shape());
}

// log(1 + exp(-x)) = -log(sigmoid(x)), stable for any x; derivative -sigmoid(-x).
Tensor neg_log_sigmoid(const Tensor& x) {
  Tensor y = kernels::unary_floating("binary_cross_entropy_with_logits", x.detach(), [](auto v) {
    using T = decltype(v);
    return std::log1p(std::exp(-std::abs(v))) + std::max(-v, T(0));
  });
  return record("neg_log_sigmoid", {x}, y, {x},
                [](const Tensor& g, const Saved& s) { return grads{-(g * sigmoid(-s[0]))}; });
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const autograd::OpScope scope("mse_loss", {input, target});
  check_pair("mse_loss", input, target);
  const Tensor d = input - target;
  return reduce(d * d, reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const autograd::OpScope scope("l1_loss", {input, target});
  check_pair("l1_loss", input, target);
  return reduce(abs(input - target), reduction);  // gradient sign(d): 0 at d == 0, like PyTorch
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  check_pair("huber_loss", input, target);
  TG_CHECK(delta > 0.0, "huber_loss: delta must be positive, got ", delta);
  Tensor y = kernels::binary_floating("huber_loss", input.detach(), target.detach(),
                                      [delta](auto x, auto t) {
                                        using T = decltype(x);
                                        const T d = std::abs(x - t), dl = static_cast<T>(delta);
                                        return d <= dl ? T(0.5) * d * d : dl * (d - T(0.5) * dl);
                                      });
  y = record("huber_loss", {input, target}, y, {input, target},
             [delta](const Tensor& g, const Saved& s) {
               // dloss/dd = clamp(d, -delta, delta): d inside the band, +-delta outside.
               const Tensor gd = g * clamp(s[0] - s[1], -delta, delta);
               return grads{s.needs_grad(0) ? gd : Tensor(), s.needs_grad(1) ? -gd : Tensor()};
             });
  return reduce(y, reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction,
                            const Tensor& weight) {
  check_pair("binary_cross_entropy", input, target);
  TG_CHECK(input.shape() == target.shape(), "binary_cross_entropy: target shape ",
           shape_str(target.shape()), " must equal input shape ", shape_str(input.shape()));
  Tensor w;
  if (weight.defined()) {
    TG_CHECK(
        broadcast_shapes("binary_cross_entropy", input.shape(), weight.shape()) == input.shape(),
        "binary_cross_entropy: weight of shape ", shape_str(weight.shape()),
        " does not broadcast to input shape ", shape_str(input.shape()));
    w = weight.detach();  // a constant, like PyTorch
  }
  std::atomic<bool> out_of_range{false};
  // PyTorch clamps each log at -100 so that p = 0 or 1 gives a finite loss.
  Tensor y = kernels::binary_floating(
      "binary_cross_entropy", input.detach(), target.detach(), [&out_of_range](auto p, auto t) {
        using T = decltype(p);
        if (!(p >= T(0) && p <= T(1))) out_of_range.store(true, std::memory_order_relaxed);
        const T lp = std::max(static_cast<T>(std::log(p)), T(-100));
        const T lq = std::max(static_cast<T>(std::log1p(-p)), T(-100));
        return -(t * lp + (T(1) - t) * lq);
      });
  if (out_of_range.load()) {
    double bad = 0.0;
    for (double v : input.to_vector<double>())
      if (!(v >= 0.0 && v <= 1.0)) {
        bad = v;
        break;
      }
    throw Error(detail::concat("binary_cross_entropy: input values must be in [0, 1], got ", bad));
  }
  if (w.defined()) {
    NoGradGuard guard;
    y = y * w;
  }
  y = record("binary_cross_entropy", {input, target}, y, {input, target, w},
             [](const Tensor& g, const Saved& s) {
               const Tensor p = s[0], t = s[1], w = s[2];
               const Tensor gw = w.defined() ? g * w : g;
               Tensor gp, gt;
               if (s.needs_grad(0)) {
                 // (p - t) / max(p (1 - p), eps), PyTorch's guard against p = 0 or 1 (its eps
                 // is the float 1e-12, so p = 0 or 1 give PyTorch's +-1.0000000039958e12).
                 gp =
                     gw * (p - t) / clamp(p * (1.0 - p), static_cast<double>(1e-12f), std::nullopt);
               }
               if (s.needs_grad(1)) gt = gw * (log(1.0 - p) - log(p));
               return grads{gp, gt};
             });
  return reduce(y, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction, const Tensor& pos_weight) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(op, logits, target);
  TG_CHECK(logits.shape() == target.shape(), op, ": target shape ", shape_str(target.shape()),
           " must equal input shape ", shape_str(logits.shape()));
  Tensor pw = pos_weight;
  if (pw.defined()) {
    TG_CHECK(pw.is_floating_point(), op, ": pos_weight must be floating-point, got ", pw.dtype());
    TG_CHECK(broadcast_shapes(op, logits.shape(), pw.shape()) == logits.shape(), op,
             ": pos_weight of shape ", shape_str(pw.shape()), " does not broadcast to input shape ",
             shape_str(logits.shape()));
  }
  // loss = (1 - y) x + (1 + (pw - 1) y) * log(1 + exp(-x)), with log(1 + exp(-x)) written as
  // log1p(exp(-|x|)) + max(-x, 0) so that no exp overflows (logits of +-1e4 stay finite).
  const Shape shape = logits.shape();
  const Dtype dtype = promote_types(logits.dtype(), target.dtype());
  const Tensor x = logits.detach().to(dtype), t = target.detach().to(dtype);
  Tensor y = empty(shape, dtype);
  dispatch_floating(dtype, op, [&]<typename T>() {
    auto softplus_neg = [](T xv) {
      return std::log1p(std::exp(-std::abs(xv))) + std::max(-xv, T(0));
    };
    if (!pw.defined()) {  // no (pw - 1) t term: an infinite target must not give 0 * inf
      detail::map_kernel<T, T, T>(y, {&x, &t},
                                  [&](T xv, T tv) { return (T(1) - tv) * xv + softplus_neg(xv); });
      return;
    }
    const Tensor pwv = detail::broadcast_view(pw.detach().to(dtype), shape);
    detail::map_kernel<T, T, T, T>(y, {&x, &t, &pwv}, [&](T xv, T tv, T pv) {
      return (T(1) - tv) * xv + (T(1) + (pv - T(1)) * tv) * softplus_neg(xv);
    });
  });
  y = record("binary_cross_entropy_with_logits", {logits, target, pw}, y, {logits, target, pw},
             [](const Tensor& g, const Saved& s) {
               const Tensor x = s[0], t = s[1], pw = s[2];
               Tensor gx, gt, gpw;
               if (s.needs_grad(0)) {
                 // (1 - y) - L * sigmoid(-x) with L = 1 + (pw - 1) y; sigmoid(x) - y when pw = 1.
                 gx = pw.defined() ? g * ((1.0 - t) - (1.0 + (pw - 1.0) * t) * sigmoid(-x))
                                   : g * (sigmoid(x) - t);
               }
               if (s.needs_grad(1))
                 gt = pw.defined() ? g * ((pw - 1.0) * neg_log_sigmoid(x) - x) : -(g * x);
               if (s.needs_grad(2)) gpw = g * t * neg_log_sigmoid(x);
               return grads{gx, gt, gpw};
             });
  return reduce(y, reduction);
}

}  // namespace tg::nn::functional
