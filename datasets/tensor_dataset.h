#pragma once
// A dataset held in two tensors whose first dim indexes the samples: inputs [N, ...] and
// targets [N, ...]. The DataLoader batches it by copying rows, so both are kept contiguous.
#include <cstdint>

#include "tapegrad/core/tensor.h"

namespace tg::data {

class TensorDataset {
 public:
  TensorDataset() = default;
  // Throws tg::Error when either tensor is undefined or 0-dim, or the sample counts differ.
  TensorDataset(Tensor inputs, Tensor targets);

  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }
  std::int64_t size() const { return inputs_.defined() ? inputs_.size(0) : 0; }
  bool empty() const { return size() == 0; }

  // Samples [start, end) as a dataset sharing this one's storage (Python-style clamping), e.g.
  // a validation split: `auto val = train.slice(50000, 60000);`.
  TensorDataset slice(std::int64_t start, std::int64_t end) const;

 private:
  Tensor inputs_, targets_;
};

}  // namespace tg::data
