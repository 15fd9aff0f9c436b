#pragma once
// The ops sequence models are built from, spelled like torch.nn.functional: embedding lookup,
// layer and RMS normalization, scaled dot-product attention, and the causal-mask helpers
// tril/triu. multinomial samples from the global generator (core/random.h).
#include <cstdint>
#include <optional>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

// The lower (tril) or upper (triu) triangle of the last two dims; other entries become 0.
// `diagonal` shifts the boundary like PyTorch's (0: main diagonal, >0 above, <0 below).
Tensor tril(const Tensor& x, std::int64_t diagonal = 0);
Tensor triu(const Tensor& x, std::int64_t diagonal = 0);

// Category indices (int64) drawn from the non-negative weights `probs` ([C] or [N, C], need not
// sum to 1): [num_samples] or [N, num_samples]. Without replacement a drawn category leaves the
// pool, so num_samples may not exceed the number of non-zero weights of a row. Draws are serial
// from the global generator, so a seeded program repeats on any thread count.
Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement = false);

}  // namespace tg

namespace tg::nn::functional {

// Rows of `weight` ([num_embeddings, D]) picked by int64 `indices` (any shape): indices.shape +
// [D]. The gradient adds into the picked rows (deterministically: the same sum order on any
// thread count); rows equal to padding_idx (if given; negative counts from the end) get none.
Tensor embedding(const Tensor& weight, const Tensor& indices,
                 std::optional<std::int64_t> padding_idx = std::nullopt);

// Normalizes over the trailing dims `normalized_shape` (biased variance), then applies the
// optional elementwise weight and bias of that shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
// x / sqrt(mean(x^2) + eps) * weight over the trailing dims `normalized_shape`. eps defaults to
// the machine epsilon of x's dtype (PyTorch 2.4's rms_norm; PyTorch 1.13 has none).
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                std::optional<double> eps = std::nullopt);

struct AttentionOptions {
  // Broadcastable to [..., Tq, Tk]. Boolean (uint8 0/1, as comparisons return): true = may
  // attend (PyTorch's sdpa convention); floating: added to the scores.
  Tensor attn_mask = {};
  bool is_causal = false;  // query i attends keys 0..i (top-left aligned); excludes attn_mask
  double dropout_p = 0.0;  // dropout on the attention weights (applied whenever > 0)
  std::optional<double> scale = std::nullopt;  // default 1 / sqrt(D)
};
// softmax(q k^T * scale + mask) v for q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv] (usually
// [B, H, T, D]). A query row whose keys are all masked gives NaN, like PyTorch.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});

// A mask as an additive float bias of `dtype`: boolean masks (uint8 today, PyTorch's bool when
// tapegrad has it) become 0 where `keep_value` and -inf elsewhere; floating masks pass through.
Tensor mask_to_bias(const Tensor& mask, Dtype dtype, bool keep_value = true);
// True for the dtypes a boolean mask may have (uint8 from comparisons).
bool is_boolean_mask(const Tensor& mask);

}  // namespace tg::nn::functional
