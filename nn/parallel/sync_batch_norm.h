#pragma once
// nn::parallel::SyncBatchNorm: batch normalization whose training statistics are those of the
// global batch (every rank's samples), all-reduced in rank order; PyTorch's SyncBatchNorm.
// Per-rank batch norm (nn::BatchNorm1d) stays the default, as in PyTorch: use this one when the
// per-rank batches are too small for good statistics. Same parameters, buffers and names as
// BatchNorm1d; takes [N, C] or [N, C, ...]. Eval mode uses the running statistics, no
// communication. As in PyTorch, weight and bias get this rank's gradient (DDP averages them)
// and the backward pass has no double backward. Every rank must run forward and backward.
#include "tapegrad/nn/layers.h"

namespace tg::nn::parallel {

class SyncBatchNorm : public BatchNorm1d {
 public:
  explicit SyncBatchNorm(std::int64_t num_features, const BatchNormOptions& options = {});
  Tensor forward(const Tensor& input) override;
};

}  // namespace tg::nn::parallel
