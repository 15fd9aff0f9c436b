#pragma once
// The fused kernels of scaled_dot_product_attention without a mask (plain or causal) and without
// dropout: softmax(q k^T * scale) v per matrix of the batch, the causal case computing only the
// unmasked lower triangle. Each matrix is one task, so results do not depend on the thread count.
#include <array>
#include <utility>

#include "tapegrad/core/tensor.h"

namespace tg::kernels {

// q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv] with equal batch dims, Tk > 0; any strides
// (a last dim that is not unit-stride is copied). Returns the output [..., Tq, Dv] (contiguous)
// and the attention probabilities [batch, Tq, Tk] (masked entries 0) that the backward reads.
std::pair<Tensor, Tensor> attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                            double scale, bool causal);

// Gradients of q, k and v (contiguous, in their shapes) from the output's gradient g.
std::array<Tensor, 3> attention_backward(const Tensor& g, const Tensor& q, const Tensor& k,
                                         const Tensor& v, const Tensor& probs, double scale,
                                         bool causal);

}  // namespace tg::kernels
