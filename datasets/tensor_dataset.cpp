#include "tapegrad/datasets/tensor_dataset.h"

#include "tapegrad/core/grad_mode.h"

namespace tg::data {

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) {
  TG_CHECK(inputs.defined() && targets.defined(),
           "TensorDataset: inputs and targets must both be defined tensors");
  TG_CHECK(inputs.dim() >= 1 && targets.dim() >= 1,
           "TensorDataset: inputs and targets need a sample dim, got shapes ",
           shape_str(inputs.shape()), " and ", shape_str(targets.shape()));
  TG_CHECK(inputs.size(0) == targets.size(0), "TensorDataset: inputs have ", inputs.size(0),
           " samples but targets have ", targets.size(0), " (shapes ", shape_str(inputs.shape()),
           " and ", shape_str(targets.shape()), ")");
  // Data, not parameters: no history, and contiguous so a row is one memcpy.
  NoGradGuard no_grad;
  inputs_ = inputs.detach().contiguous();
  targets_ = targets.detach().contiguous();
}

TensorDataset TensorDataset::slice(std::int64_t start, std::int64_t end) const {
  TG_CHECK(inputs_.defined(), "TensorDataset::slice: the dataset is empty");
  return TensorDataset(inputs_.slice(0, start, end), targets_.slice(0, start, end));
}

}  // namespace tg::data
