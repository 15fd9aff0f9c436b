#include "tapegrad/nn/sequence.h"

#include <sstream>

#include "tapegrad/core/error.h"
#include "tapegrad/core/grad_mode.h"
#include "tapegrad/nn/init.h"
#include "tapegrad/ops/sequence.h"

namespace tg::nn {

namespace {
std::string tuple_str(const Shape& s) {  // Python's tuple spelling: (8,) or (2, 3)
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << (s.size() == 1 ? ",)" : ")");
  return os.str();
}
}  // namespace

// ---- Embedding ----

Embedding::Embedding(std::int64_t num, std::int64_t dim, const EmbeddingOptions& o)
    : num_embeddings(num), embedding_dim(dim) {
  TG_CHECK(num > 0 && dim >= 0, "Embedding: num_embeddings must be positive and embedding_dim ",
           "non-negative, got ", num, " and ", dim);
  if (o.padding_idx) {
    TG_CHECK(*o.padding_idx >= -num && *o.padding_idx < num, "Embedding: padding_idx ",
             *o.padding_idx, " is out of range for num_embeddings ", num);
    padding_idx = *o.padding_idx < 0 ? *o.padding_idx + num : *o.padding_idx;
  }
  weight = register_parameter("weight", empty({num, dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  if (padding_idx) {
    NoGradGuard guard;
    weight.select(0, *padding_idx).zero_();
  }
}

Embedding Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                     const EmbeddingOptions& options) {
  TG_CHECK(embeddings.defined() && embeddings.dim() == 2,
           "Embedding::from_pretrained: embeddings must be 2-D [num, dim], got ",
           embeddings.defined() ? shape_str(embeddings.shape()) : std::string("undefined"));
  Embedding e(embeddings.size(0), embeddings.size(1), options);
  // PyTorch keeps the given values, padding row included.
  set_data(e.weight, embeddings.detach().clone());
  e.weight.requires_grad_(!freeze);
  return e;
}

Tensor Embedding::forward(const Tensor& indices) {
  return functional::embedding(weight, indices, padding_idx);
}

std::string Embedding::extra_repr() const {
  std::ostringstream os;
  os << num_embeddings << ", " << embedding_dim;
  if (padding_idx) os << ", padding_idx=" << *padding_idx;
  return os.str();
}

// ---- LayerNorm ----

LayerNorm::LayerNorm(Shape shape, const LayerNormOptions& o)
    : normalized_shape(std::move(shape)), options(o) {
  TG_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must have at least one dim");
  TG_CHECK(o.eps >= 0.0, "LayerNorm: eps must be non-negative, got ", o.eps);
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  return functional::layer_norm(x, normalized_shape, weight, bias, options.eps);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << tuple_str(normalized_shape) << ", eps=" << options.eps
     << ", elementwise_affine=" << (options.elementwise_affine ? "true" : "false");
  return os.str();
}

// ---- RMSNorm ----

RMSNorm::RMSNorm(Shape shape, const RMSNormOptions& o)
    : normalized_shape(std::move(shape)), options(o) {
  TG_CHECK(!normalized_shape.empty(), "RMSNorm: normalized_shape must have at least one dim");
  if (o.elementwise_affine) weight = register_parameter("weight", ones(normalized_shape));
}

Tensor RMSNorm::forward(const Tensor& x) {
  return functional::rms_norm(x, normalized_shape, weight, options.eps);
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream os;
  os << tuple_str(normalized_shape) << ", eps=";
  if (options.eps)
    os << *options.eps;
  else
    os << "None";
  os << ", elementwise_affine=" << (options.elementwise_affine ? "true" : "false");
  return os.str();
}

}  // namespace tg::nn
