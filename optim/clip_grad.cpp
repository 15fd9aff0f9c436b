#include "tapegrad/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "tapegrad/core/error.h"
#include "tapegrad/core/grad_mode.h"

namespace tg::optim {
namespace {

// Gradients to clip, made contiguous in place when needed so they can be written directly.
std::vector<Tensor> grads_of(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> out;
  for (const auto& t : tensors) {
    TG_CHECK(t.defined(), "clip_grad: a tensor in the list is undefined");
    Tensor g = t.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous() || g.grad_fn()) {
      g = g.detach().contiguous().clone();
      t.set_grad(g);
    }
    out.push_back(g);
  }
  return out;
}

// sum |x|^p (or max |x| when p is infinite), accumulated in double.
double norm_part(const Tensor& g, double p) {
  return dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<typename T>() {
    const T* d = g.data_ptr<T>();
    double acc = 0.0;
    for (std::int64_t i = 0; i < g.numel(); ++i) {
      const double a = std::abs(static_cast<double>(d[i]));
      if (std::isinf(p)) {
        if (std::isnan(a)) return a;  // NaN poisons the max, as in PyTorch
        acc = std::max(acc, a);
      } else if (p == 1.0) {
        acc += a;
      } else if (p == 2.0) {
        acc += a * a;
      } else {
        acc += std::pow(a, p);
      }
    }
    return acc;
  });
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& tensors, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  TG_CHECK(norm_type >= 1.0, "clip_grad_norm_: norm_type must be >= 1 or infinity, got ",
           norm_type);
  TG_CHECK(max_norm >= 0.0, "clip_grad_norm_: max_norm must be non-negative, got ", max_norm);
  NoGradGuard guard;
  const auto grads = grads_of(tensors);
  if (grads.empty()) return 0.0;
  double total = 0.0;
  const bool inf_norm = std::isinf(norm_type);
  for (const auto& g : grads) {
    const double part = norm_part(g, norm_type);
    total = inf_norm ? (std::isnan(part) ? part : std::max(total, part)) : total + part;
  }
  if (!inf_norm) total = norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
  TG_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of ",
           "order ", norm_type, " of the gradients is ", total,
           ", so they cannot be clipped (set error_if_nonfinite=false to scale them anyway)");
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0 || std::isnan(coef))
    for (auto g : grads) g.mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& tensors, double clip_value) {
  TG_CHECK(clip_value >= 0.0, "clip_grad_value_: clip_value must be non-negative, got ",
           clip_value);
  NoGradGuard guard;
  for (auto g : grads_of(tensors)) {
    dispatch_floating(g.dtype(), "clip_grad_value_", [&]<typename T>() {
      T* d = g.data_ptr<T>();
      const T c = static_cast<T>(clip_value);
      for (std::int64_t i = 0; i < g.numel(); ++i) d[i] = std::clamp(d[i], -c, c);
    });
    g.bump_version();
  }
}

}  // namespace tg::optim
