#pragma once
// RMSprop, following PyTorch's documented update:
//   g = g + weight_decay * p
//   v = alpha * v + (1 - alpha) * g^2
//   centered: a = alpha * a + (1 - alpha) * g;  d = sqrt(v - a^2) + eps,  else d = sqrt(v) + eps
//   momentum > 0: b = momentum * b + g / d;  p = p - lr * b,  else p = p - lr * g / d
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;

  void validate() const;
  template <typename F>
  void for_each_field(F&& f) {
    f("lr", lr), f("alpha", alpha), f("eps", eps), f("weight_decay", weight_decay);
    f("momentum", momentum), f("centered", centered), f("maximize", maximize);
  }
};

struct RMSpropState {
  std::int64_t step = 0;
  Tensor square_avg;
  Tensor momentum_buffer;  // only with momentum
  Tensor grad_avg;         // only when centered

  template <typename F>
  void for_each_field(F&& f) {
    f("step", step), f("square_avg", square_avg), f("momentum_buffer", momentum_buffer);
    f("grad_avg", grad_avg);
  }
};

class RMSprop : public OptimizerWith<RMSpropOptions, RMSpropState> {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  explicit RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace tg::optim
