#pragma once
// Adagrad, following PyTorch's documented update (t = step count, from 1):
//   g = g + weight_decay * p
//   lr_t = lr / (1 + (t - 1) * lr_decay)
//   sum = sum + g^2                          (sum starts at initial_accumulator_value)
//   p = p - lr_t * g / (sqrt(sum) + eps)
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  bool maximize = false;

  void validate() const;
  template <typename F>
  void for_each_field(F&& f) {
    f("lr", lr), f("lr_decay", lr_decay), f("weight_decay", weight_decay);
    f("initial_accumulator_value", initial_accumulator_value), f("eps", eps);
    f("maximize", maximize);
  }
};

struct AdagradState {
  std::int64_t step = 0;
  Tensor sum;

  template <typename F>
  void for_each_field(F&& f) {
    f("step", step), f("sum", sum);
  }
};

class Adagrad : public OptimizerWith<AdagradOptions, AdagradState> {
 public:
  Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});
  explicit Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace tg::optim
