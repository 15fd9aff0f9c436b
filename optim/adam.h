#pragma once
// Adam and AdamW, following PyTorch's documented updates (t = step count, from 1):
//   g = g + weight_decay * p                 (Adam: L2 penalty in the gradient)
//   p = p * (1 - lr * weight_decay)          (AdamW: decoupled decay, instead)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v)                    (amsgrad; v_max replaces v below)
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <utility>

#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;

  void validate() const;
  template <typename F>
  void for_each_field(F&& f) {
    f("lr", lr), f("beta1", betas.first), f("beta2", betas.second), f("eps", eps);
    f("weight_decay", weight_decay), f("amsgrad", amsgrad), f("maximize", maximize);
  }
};

// Same fields as AdamOptions; weight decay is decoupled and defaults to 1e-2.
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;

  void validate() const;
  template <typename F>
  void for_each_field(F&& f) {
    f("lr", lr), f("beta1", betas.first), f("beta2", betas.second), f("eps", eps);
    f("weight_decay", weight_decay), f("amsgrad", amsgrad), f("maximize", maximize);
  }
};

struct AdamState {
  std::int64_t step = 0;
  Tensor exp_avg;         // m
  Tensor exp_avg_sq;      // v
  Tensor max_exp_avg_sq;  // v_max, only with amsgrad

  template <typename F>
  void for_each_field(F&& f) {
    f("step", step), f("exp_avg", exp_avg), f("exp_avg_sq", exp_avg_sq);
    f("max_exp_avg_sq", max_exp_avg_sq);
  }
};

class Adam : public OptimizerWith<AdamOptions, AdamState> {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  explicit Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = {});
  using Optimizer::step;
  void step() override;
};

class AdamW : public OptimizerWith<AdamWOptions, AdamState> {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  explicit AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace tg::optim
