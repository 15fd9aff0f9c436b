#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay,
// following PyTorch's documented update (g = gradient of parameter p):
//   g = g + weight_decay * p
//   b = g on the first step, else momentum * b + (1 - dampening) * g
//   g = g + momentum * b (nesterov) or b
//   p = p - lr * g                        (p + lr * g when maximize)
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
  bool maximize = false;

  void validate() const;
  template <typename F>
  void for_each_field(F&& f) {
    f("lr", lr), f("momentum", momentum), f("dampening", dampening);
    f("weight_decay", weight_decay), f("nesterov", nesterov), f("maximize", maximize);
  }
};

struct SGDState {
  Tensor momentum_buffer;  // only with momentum

  template <typename F>
  void for_each_field(F&& f) {
    f("momentum_buffer", momentum_buffer);
  }
};

class SGD : public OptimizerWith<SGDOptions, SGDState> {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  explicit SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace tg::optim
