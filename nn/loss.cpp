#include "tapegrad/nn/loss.h"

#include <sstream>

namespace tg::nn {
namespace F = functional;

std::string Loss::extra_repr() const {
  switch (reduction) {
    case Reduction::None:
      return "reduction=none";
    case Reduction::Sum:
      return "reduction=sum";
    case Reduction::Mean:
      break;
  }
  return "";
}

Tensor MSELoss::forward(const Tensor& x, const Tensor& y) { return F::mse_loss(x, y, reduction); }
Tensor L1Loss::forward(const Tensor& x, const Tensor& y) { return F::l1_loss(x, y, reduction); }

HuberLoss::HuberLoss(const HuberLossOptions& o) : Loss(o.reduction), delta(o.delta) {
  TG_CHECK(delta > 0.0, "HuberLoss: delta must be positive, got ", delta);
}
Tensor HuberLoss::forward(const Tensor& x, const Tensor& y) {
  return F::huber_loss(x, y, reduction, delta);
}
std::string HuberLoss::extra_repr() const {
  std::ostringstream os;
  const std::string base = Loss::extra_repr();
  os << base << (base.empty() ? "" : ", ") << "delta=" << delta;
  return os.str();
}

CrossEntropyLoss::CrossEntropyLoss(const CrossEntropyOptions& o) : Loss(o.reduction), options(o) {
  if (options.weight.defined()) options.weight = register_buffer("weight", options.weight);
}
Tensor CrossEntropyLoss::forward(const Tensor& x, const Tensor& y) {
  options.reduction = reduction;
  return F::cross_entropy(x, y, options);
}

NLLLoss::NLLLoss(const NLLLossOptions& o) : Loss(o.reduction), options(o) {
  if (options.weight.defined()) options.weight = register_buffer("weight", options.weight);
}
Tensor NLLLoss::forward(const Tensor& x, const Tensor& y) {
  return F::nll_loss(x, y, reduction, options.ignore_index, options.weight);
}

BCELoss::BCELoss(const BCELossOptions& o) : Loss(o.reduction), options(o) {
  if (options.weight.defined()) options.weight = register_buffer("weight", options.weight);
}
Tensor BCELoss::forward(const Tensor& x, const Tensor& y) {
  return F::binary_cross_entropy(x, y, reduction, options.weight);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(const BCEWithLogitsLossOptions& o)
    : Loss(o.reduction), options(o) {
  if (options.pos_weight.defined())
    options.pos_weight = register_buffer("pos_weight", options.pos_weight);
}
Tensor BCEWithLogitsLoss::forward(const Tensor& x, const Tensor& y) {
  return F::binary_cross_entropy_with_logits(x, y, reduction, options.pos_weight);
}

}  // namespace tg::nn
