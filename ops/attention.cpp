// tril/triu and scaled dot-product attention; tril/triu have a small kernel whose backward is
// the same op on the gradient. Attention without a mask (plain or causal) and without dropout is
// one fused node (ops/kernels/attention.cpp: the causal case skips the masked half), whose
// backward has two paths, as layer_norm's does:
//   - plain backward (grad mode off while it runs): the fused backward kernel from the saved
//     probabilities;
//   - create_graph (grad mode on): the gradient written in differentiable ops from q, k and v,
//     so attention differentiates twice. gradgradcheck covers this path.
// With a mask or dropout attention is composed from matmul, softmax, masked_fill and dropout,
// so its gradients (and double backward) are theirs.
#include <cmath>
#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/comparison.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/kernels/attention.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/sequence.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {

// Keeps x[..., i, j] where j - i <= diagonal (lower) or j - i >= diagonal (upper), else 0.
Tensor triangle(const char* op, const Tensor& x, std::int64_t diagonal, bool lower) {
  TG_CHECK(x.defined(), op, ": input is undefined");
  TG_CHECK(x.dim() >= 2, op, ": expected a tensor of at least 2 dims, got ", shape_str(x.shape()));
  const Tensor xc = x.detach().contiguous();
  Tensor y = empty(x.shape(), x.dtype());
  const std::int64_t rows = x.size(-2), cols = x.size(-1);
  const std::int64_t mats = rows * cols > 0 ? x.numel() / (rows * cols) : 0;
  dispatch(x.dtype(), [&]<typename T>() {
    const T* in = xc.data_ptr<T>();
    T* out = y.data_ptr<T>();
    const std::int64_t grain = std::max<std::int64_t>(
        1, detail::kElementwiseGrain / std::max<std::int64_t>(rows * cols, 1));
    detail::parallel_for(mats, grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t m = b; m < e; ++m)
        for (std::int64_t i = 0; i < rows; ++i) {
          const std::int64_t at = (m * rows + i) * cols;
          for (std::int64_t j = 0; j < cols; ++j) {
            const bool keep = lower ? j - i <= diagonal : j - i >= diagonal;
            out[at + j] = keep ? in[at + j] : T(0);
          }
        }
    });
  });
  if (!x.is_floating_point()) return y;
  return record(op, {x}, y, [diagonal, lower](const Tensor& g, const Saved&) {
    return grads{lower ? tril(g, diagonal) : triu(g, diagonal)};
  });
}

}  // namespace

Tensor tril(const Tensor& x, std::int64_t diagonal) { return triangle("tril", x, diagonal, true); }
Tensor triu(const Tensor& x, std::int64_t diagonal) { return triangle("triu", x, diagonal, false); }

}  // namespace tg

namespace tg::nn::functional {

namespace {

// softmax(q k^T * scale [causal]) v as one node; see the top of the file for its two backwards.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                       bool causal) {
  auto [y, probs] = kernels::attention_forward(q.detach(), k.detach(), v.detach(), scale, causal);
  return record("scaled_dot_product_attention", {q, k, v}, y, {q, k, v, probs},
                [scale, causal](const Tensor& g, const Saved& s) {
                  const Tensor q = s[0], k = s[1], v = s[2];
                  if (!GradMode::is_enabled()) {
                    auto [gq, gk, gv] =
                        kernels::attention_backward(g, q, k, v, s[3], scale, causal);
                    return grads{gq, gk, gv};
                  }
                  // create_graph: the probabilities again, from q and k in differentiable ops.
                  Tensor scores = matmul(q, k.transpose(-2, -1)) * scale;
                  if (causal)
                    scores = masked_fill(scores, triu(ones({q.size(-2), k.size(-2)}, kUInt8), 1),
                                         -std::numeric_limits<double>::infinity());
                  const Tensor p = softmax(scores, -1);
                  const Tensor dp = matmul(g, v.transpose(-2, -1));
                  const Tensor ds = p * (dp - sum(p * dp, {-1}, true)) * scale;
                  return grads{s.needs_grad(0) ? matmul(ds, k) : Tensor(),
                               s.needs_grad(1) ? matmul(ds.transpose(-2, -1), q) : Tensor(),
                               s.needs_grad(2) ? matmul(p.transpose(-2, -1), g) : Tensor()};
                });
}

}  // namespace

bool is_boolean_mask(const Tensor& mask) {
  // The one place that knows which dtypes hold boolean masks: bool, and uint8 as PyTorch 1.13
  // still accepts it.
  return mask.dtype() == kBool || mask.dtype() == kUInt8;
}

Tensor mask_to_bias(const Tensor& mask, Dtype dtype, bool keep_value) {
  TG_CHECK(mask.defined(), "mask_to_bias: mask is undefined");
  if (!is_boolean_mask(mask)) {
    TG_CHECK(mask.is_floating_point(),
             "attention: a mask must be boolean (bool or uint8) or floating, got ", mask.dtype());
    return mask.to(dtype);
  }
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor masked = keep_value ? logical_not(mask) : ne(mask, 0.0);
  return masked_fill(zeros(mask.shape(), dtype), masked, -inf);
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& o) {
  TG_CHECK(q.defined() && k.defined() && v.defined(),
           "scaled_dot_product_attention: query, key or value is undefined");
  TG_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(),
           "scaled_dot_product_attention: query, key and value must have the same number of dims "
           "(at least 2), got ",
           shape_str(q.shape()), ", ", shape_str(k.shape()), " and ", shape_str(v.shape()));
  TG_CHECK(q.is_floating_point() && k.dtype() == q.dtype() && v.dtype() == q.dtype(),
           "scaled_dot_product_attention: query, key and value must share one floating dtype, "
           "got ",
           q.dtype(), ", ", k.dtype(), " and ", v.dtype());
  TG_CHECK(q.size(-1) == k.size(-1), "scaled_dot_product_attention: query ", shape_str(q.shape()),
           " and key ", shape_str(k.shape()), " differ in the last dim (embedding size)");
  TG_CHECK(k.size(-2) == v.size(-2), "scaled_dot_product_attention: key ", shape_str(k.shape()),
           " and value ", shape_str(v.shape()), " differ in the sequence dim (-2)");
  for (std::int64_t d = 0; d < q.dim() - 2; ++d)
    TG_CHECK(q.size(d) == k.size(d) && k.size(d) == v.size(d),
             "scaled_dot_product_attention: batch dims of query ", shape_str(q.shape()), ", key ",
             shape_str(k.shape()), " and value ", shape_str(v.shape()), " differ");
  TG_CHECK(!(o.is_causal && o.attn_mask.defined()),
           "scaled_dot_product_attention: give either attn_mask or is_causal, not both");
  TG_CHECK(o.dropout_p >= 0.0 && o.dropout_p < 1.0,
           "scaled_dot_product_attention: dropout_p must be in [0, 1), got ", o.dropout_p);
  const std::int64_t Tq = q.size(-2), Tk = k.size(-2);
  Shape scores_shape = q.shape();
  scores_shape.back() = Tk;
  const double scale = o.scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  const double inf = std::numeric_limits<double>::infinity();
  if (!o.attn_mask.defined() && o.dropout_p == 0.0 && Tk > 0 && q.numel() > 0 && v.numel() > 0)
    return fused_attention(q, k, v, scale, o.is_causal);
  Tensor scores = matmul(q, k.transpose(-2, -1)) * scale;
  if (o.is_causal) {
    scores = masked_fill(scores, triu(ones({Tq, Tk}, kUInt8), 1), -inf);
  } else if (o.attn_mask.defined()) {
    const Tensor& m = o.attn_mask;
    TG_CHECK(is_boolean_mask(m) || m.is_floating_point(),
             "scaled_dot_product_attention: attn_mask must be boolean (uint8) or floating, got ",
             m.dtype());
    bool fits = m.dim() <= static_cast<std::int64_t>(scores_shape.size());
    for (std::int64_t i = 1; fits && i <= m.dim(); ++i) {
      const std::int64_t a = m.size(-i), b = scores_shape[scores_shape.size() - i];
      fits = a == b || a == 1;
    }
    TG_CHECK(fits, "scaled_dot_product_attention: attn_mask of shape ", shape_str(m.shape()),
             " does not broadcast to the attention scores' shape ", shape_str(scores_shape));
    scores = is_boolean_mask(m) ? masked_fill(scores, logical_not(m), -inf)
                                : scores + m.to(scores.dtype());
  }
  Tensor attn = softmax(scores, -1);
  if (o.dropout_p > 0.0) attn = dropout(attn, o.dropout_p, true);
  return matmul(attn, v);
}

}  // namespace tg::nn::functional
