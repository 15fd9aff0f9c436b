#pragma once
// Attention layers with PyTorch's parameter names (in_proj_weight, out_proj.weight, self_attn.*,
// linear1, norm1, layers.0...), so state dicts written by PyTorch load unchanged.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "tapegrad/nn/container.h"
#include "tapegrad/nn/layers.h"
#include "tapegrad/nn/module.h"
#include "tapegrad/nn/sequence.h"

namespace tg::nn {

struct MultiheadAttentionOptions {
  double dropout = 0.0;  // on the attention weights, in training
  bool bias = true;
  bool batch_first = false;  // [B, T, E] instead of PyTorch's default [T, B, E]
};

struct AttentionCall {
  // [B, S] (or [S] unbatched). Boolean (uint8): true = ignore that key; floating: added.
  Tensor key_padding_mask = {};
  bool need_weights = true;  // also return the attention weights
  // [T, S] or [B * num_heads, T, S]. Boolean: true = may NOT attend (PyTorch's MHA convention,
  // the opposite of scaled_dot_product_attention's); floating: added to the scores.
  Tensor attn_mask = {};
  bool average_attn_weights = true;  // weights averaged over heads: [B, T, S]
  bool is_causal = false;            // a causal mask (used when attn_mask is not given)
};

// Multi-head attention: query [T, B, E] (or [B, T, E] with batch_first, or unbatched [T, E]),
// key/value [S, B, E]. Returns the output (query's shape) and, if need_weights, the weights
// [B, T, S] (or [B, num_heads, T, S] unaveraged); otherwise an undefined tensor.
class MultiheadAttention : public OwningModule {
 public:
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads,
                     const MultiheadAttentionOptions& options = {});
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const AttentionCall& call = {});
  std::pair<Tensor, Tensor> operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                       const AttentionCall& call = {}) {
    return forward(query, key, value, call);
  }
  // Self-attention without weights: forward(x, x, x, {.need_weights = false}).first.
  Tensor forward(const Tensor& x) override;
  void reset_parameters();  // xavier_uniform_ in_proj_weight, zero biases (PyTorch's)

  std::int64_t embed_dim, num_heads, head_dim;
  MultiheadAttentionOptions options;
  Tensor in_proj_weight;  // [3 E, E]: query, key and value projections stacked
  Tensor in_proj_bias;    // [3 E], undefined without bias
  std::shared_ptr<Linear> out_proj;
};

struct TransformerEncoderLayerOptions {
  std::int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // "relu", "gelu" or "gelu_tanh"
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;  // pre-LN: x + sa(norm1(x)), x + ff(norm2(x))
};

struct EncoderCall {
  Tensor src_mask = {};              // attn_mask of the self-attention
  Tensor src_key_padding_mask = {};  // key_padding_mask of the self-attention
  bool is_causal = false;            // causal self-attention (when src_mask is not given)
};

// Self-attention and a feed-forward block, each with a residual connection and LayerNorm.
class TransformerEncoderLayer : public OwningModule {
 public:
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead,
                          const TransformerEncoderLayerOptions& options = {});
  Tensor forward(const Tensor& src, const EncoderCall& call);
  Tensor forward(const Tensor& src) override { return forward(src, EncoderCall{}); }
  Tensor operator()(const Tensor& src, const EncoderCall& call = {}) { return forward(src, call); }

  std::int64_t d_model, nhead;
  TransformerEncoderLayerOptions options;
  // Owned submodules (an OwningModule holds them by shared_ptr, so the layer stays movable).
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout1, dropout2;

 private:
  Tensor self_attention_block(const Tensor& x, const EncoderCall& call);
  Tensor feed_forward_block(const Tensor& x);
};

// num_layers copies of `layer` (the same initial values, as PyTorch's deep copies), named
// layers.0, layers.1, ..., then the optional final norm.
class TransformerEncoder : public OwningModule {
 public:
  TransformerEncoder(const TransformerEncoderLayer& layer, std::int64_t num_layers,
                     std::optional<LayerNorm> norm = std::nullopt);
  Tensor forward(const Tensor& src, const EncoderCall& call);
  Tensor forward(const Tensor& src) override { return forward(src, EncoderCall{}); }
  Tensor operator()(const Tensor& src, const EncoderCall& call = {}) { return forward(src, call); }
  TransformerEncoderLayer& layer(std::size_t i) { return layers->at<TransformerEncoderLayer>(i); }

  std::int64_t num_layers;
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null without a final norm
};

}  // namespace tg::nn
