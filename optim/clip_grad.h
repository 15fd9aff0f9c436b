#pragma once
// Gradient clipping, applied to the .grad of each tensor in place (tensors without a gradient
// are skipped). Spelled like torch.nn.utils, and also reachable as tg::nn::utils::...
#include <limits>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::optim {

// Scales all gradients together so that their joint norm (the norm of the per-tensor norms) is
// at most max_norm: g *= max_norm / (total_norm + 1e-6) when that factor is below 1. norm_type
// is p >= 1, or infinity for the max-abs norm. Returns the total norm before clipping. A NaN or
// infinite total norm is an error when error_if_nonfinite, else the gradients become NaN/Inf
// scaled like PyTorch's.
double clip_grad_norm_(const std::vector<Tensor>& tensors, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& tensors, double clip_value);

}  // namespace tg::optim

namespace tg::nn::utils {
using optim::clip_grad_norm_;
using optim::clip_grad_value_;
}  // namespace tg::nn::utils
