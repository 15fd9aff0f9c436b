#pragma once
// Layers of sequence models: Embedding, LayerNorm and RMSNorm (PyTorch's names, defaults and
// parameter names, so their state dicts load from PyTorch).
#include <cstdint>
#include <optional>
#include <string>

#include "tapegrad/nn/module.h"

namespace tg::nn {

struct EmbeddingOptions {
  std::optional<std::int64_t> padding_idx = std::nullopt;  // that row is zero and gets no grad
};

// A lookup table: int64 indices of any shape -> indices.shape + [embedding_dim]. weight is
// initialized N(0, 1) (PyTorch's default), with the padding row zeroed.
class Embedding : public OwningModule {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
            const EmbeddingOptions& options = {});
  // A table holding a copy of `embeddings` ([num, dim]); freeze: weight does not require grad.
  static Embedding from_pretrained(const Tensor& embeddings, bool freeze = true,
                                   const EmbeddingOptions& options = {});
  Tensor forward(const Tensor& indices) override;
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t num_embeddings, embedding_dim;
  std::optional<std::int64_t> padding_idx;  // stored non-negative
  Tensor weight;                            // [num_embeddings, embedding_dim]
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // learnable weight (ones) and bias (zeros)
};

// Normalizes over the trailing dims normalized_shape.
class LayerNorm : public OwningModule {
 public:
  explicit LayerNorm(Shape normalized_shape, const LayerNormOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  LayerNormOptions options;
  Tensor weight, bias;  // normalized_shape, undefined without elementwise_affine
};

struct RMSNormOptions {
  std::optional<double> eps = std::nullopt;  // default: machine epsilon of the input's dtype
  bool elementwise_affine = true;            // learnable weight (ones)
};

// x / sqrt(mean(x^2) + eps) * weight over the trailing dims (PyTorch 2.4's nn.RMSNorm).
class RMSNorm : public OwningModule {
 public:
  explicit RMSNorm(Shape normalized_shape, const RMSNormOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  RMSNormOptions options;
  Tensor weight;
};

}  // namespace tg::nn
