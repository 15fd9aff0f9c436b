#pragma once
// Losses as modules over the functional ops (ops/nn_functional.h): loss(input, target).
// Class weights are registered as buffers, so to(dtype) and state_dict() include them.
#include <cstdint>
#include <string>

#include "tapegrad/nn/module.h"
#include "tapegrad/ops/nn_functional.h"

namespace tg::nn {

using functional::CrossEntropyOptions;
using functional::Reduction;

// Shared shape of every loss module: forward(input, target) and operator() to call it.
class Loss : public OwningModule {
 public:
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  std::string extra_repr() const override;

 protected:
  explicit Loss(Reduction reduction) : reduction(reduction) {}
  // A loss takes (input, target): Module's one-tensor forward stays out of reach, on purpose.
  using OwningModule::forward;

 public:
  Reduction reduction;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

struct HuberLossOptions {
  Reduction reduction = Reduction::Mean;
  double delta = 1.0;
};
class HuberLoss : public Loss {
 public:
  explicit HuberLoss(const HuberLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  double delta;
};

// Fused log-softmax + NLL over logits [N, C] (or [N, C, d...]) and class indices or
// probabilities.
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(const CrossEntropyOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  CrossEntropyOptions options;
};

struct NLLLossOptions {
  Reduction reduction = Reduction::Mean;
  std::int64_t ignore_index = -100;
  Tensor weight{};  // optional per-class weights [C]
};
class NLLLoss : public Loss {
 public:
  explicit NLLLoss(const NLLLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  NLLLossOptions options;
};

struct BCELossOptions {
  Reduction reduction = Reduction::Mean;
  Tensor weight{};  // optional, broadcast against the input
};
// Binary cross entropy of probabilities in [0, 1].
class BCELoss : public Loss {
 public:
  explicit BCELoss(const BCELossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  BCELossOptions options;
};

struct BCEWithLogitsLossOptions {
  Reduction reduction = Reduction::Mean;
  Tensor pos_weight{};  // optional weight of positive examples, per class
};
// Sigmoid + binary cross entropy in one numerically stable op.
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(const BCEWithLogitsLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  BCEWithLogitsLossOptions options;
};

}  // namespace tg::nn
