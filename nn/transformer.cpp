#include "tapegrad/nn/transformer.h"

#include <cmath>
#include <sstream>

#include "tapegrad/core/error.h"
#include "tapegrad/nn/init.h"
#include "tapegrad/ops/activation.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/sequence.h"
#include "tapegrad/ops/shape.h"

namespace tg::nn {

namespace F = functional;

// ---- MultiheadAttention ----

MultiheadAttention::MultiheadAttention(std::int64_t e, std::int64_t h,
                                       const MultiheadAttentionOptions& o)
    : embed_dim(e), num_heads(h), head_dim(h > 0 ? e / h : 0), options(o) {
  TG_CHECK(e > 0 && h > 0 && e % h == 0, "MultiheadAttention: embed_dim (", e,
           ") must be positive and divisible by num_heads (", h, ")");
  TG_CHECK(o.dropout >= 0.0 && o.dropout < 1.0,
           "MultiheadAttention: dropout must be in [0, 1), got ", o.dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * e, e}));
  if (o.bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * e}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, LinearOptions{o.bias}));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  init::xavier_uniform_(in_proj_weight);
  if (in_proj_bias.defined()) init::zeros_(in_proj_bias);
  if (out_proj->bias.defined()) init::zeros_(out_proj->bias);
}

Tensor MultiheadAttention::forward(const Tensor& x) {
  return forward(x, x, x, {.need_weights = false}).first;
}

std::pair<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                                      const Tensor& value,
                                                      const AttentionCall& call) {
  TG_CHECK(query.defined() && key.defined() && value.defined(),
           "MultiheadAttention: query, key or value is undefined");
  const bool unbatched = query.dim() == 2;
  TG_CHECK((query.dim() == 2 || query.dim() == 3) && key.dim() == query.dim() &&
               value.dim() == query.dim(),
           "MultiheadAttention: query, key and value must all be 3-D (or all 2-D unbatched), got ",
           shape_str(query.shape()), ", ", shape_str(key.shape()), " and ",
           shape_str(value.shape()));
  for (const Tensor* t : {&query, &key, &value})
    TG_CHECK(t->size(-1) == embed_dim, "MultiheadAttention(embed_dim=", embed_dim,
             "): expected inputs of shape [..., ", embed_dim, "], got ", shape_str(t->shape()));
  TG_CHECK(key.shape() == value.shape(), "MultiheadAttention: key ", shape_str(key.shape()),
           " and value ", shape_str(value.shape()), " must have the same shape");
  // Everything below works on [B, T, E].
  auto to_bte = [&](const Tensor& t) {
    return unbatched ? t.unsqueeze(0) : options.batch_first ? t : t.transpose(0, 1);
  };
  const Tensor q_in = to_bte(query), k_in = to_bte(key), v_in = to_bte(value);
  TG_CHECK(q_in.size(0) == k_in.size(0), "MultiheadAttention: query ", shape_str(query.shape()),
           " and key ", shape_str(key.shape()), " differ in batch size");
  const std::int64_t B = q_in.size(0), T = q_in.size(1), S = k_in.size(1), E = embed_dim,
                     H = num_heads;

  // Three products with row blocks of in_proj_weight, for self-attention too: chunks of one
  // [B, T, 3E] product would each send a zero-filled [B, T, 3E] gradient back to be summed,
  // while slices of the weight send back only weight-sized ones.
  const Tensor& b = in_proj_bias;
  auto part = [&](const Tensor& x, std::int64_t i) {
    return F::linear(x, in_proj_weight.slice(0, i * E, (i + 1) * E),
                     b.defined() ? b.slice(0, i * E, (i + 1) * E) : Tensor());
  };
  Tensor q = part(q_in, 0), k = part(k_in, 1), v = part(v_in, 2);
  auto heads = [&](const Tensor& x, std::int64_t len) {
    return x.reshape({B, len, H, head_dim}).transpose(1, 2);  // [B, H, len, head_dim]
  };
  q = heads(q, T), k = heads(k, S), v = heads(v, S);

  // Both masks become one additive bias broadcastable to [B, H, T, S].
  const Dtype dt = query.dtype();
  Tensor bias;
  bool causal = false;
  if (call.attn_mask.defined()) {
    const Tensor& m = call.attn_mask;
    const bool ok = (m.dim() == 2 && m.size(0) == T && m.size(1) == S) ||
                    (m.dim() == 3 && m.size(0) == B * H && m.size(1) == T && m.size(2) == S);
    TG_CHECK(ok, "MultiheadAttention: attn_mask of shape ", shape_str(m.shape()),
             " does not match [T, S] = [", T, ", ", S, "] or [B * num_heads, T, S] = [", B * H,
             ", ", T, ", ", S, "] for query ", shape_str(query.shape()), " and key ",
             shape_str(key.shape()));
    bias = F::mask_to_bias(m, dt, false);
    if (m.dim() == 3) bias = bias.reshape({B, H, T, S});
  } else if (call.is_causal) {
    causal = true;
  }
  if (call.key_padding_mask.defined()) {
    const Tensor& m = call.key_padding_mask;
    const Shape want = unbatched ? Shape{S} : Shape{B, S};
    TG_CHECK(m.shape() == want, "MultiheadAttention: key_padding_mask of shape ",
             shape_str(m.shape()), " does not match ", shape_str(want), " for key ",
             shape_str(key.shape()));
    const Tensor kb = F::mask_to_bias(m, dt, false).reshape({B, 1, 1, S});
    bias = bias.defined() ? bias + kb : kb;
  }
  if (causal && (bias.defined() || call.need_weights)) {
    const Tensor cb = F::mask_to_bias(triu(ones({T, S}, kUInt8), 1), dt, false);
    bias = bias.defined() ? bias + cb : cb;
    causal = false;
  }

  const double p = is_training() ? options.dropout : 0.0;
  Tensor out, weights;
  if (call.need_weights) {
    Tensor scores = matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(head_dim)));
    if (bias.defined()) scores = scores + bias;
    weights = F::softmax(scores, -1);
    if (p > 0.0) weights = F::dropout(weights, p, true);
    out = matmul(weights, v);
    if (call.average_attn_weights) weights = mean(weights, {1});
    if (unbatched) weights = weights.squeeze(0);
  } else {
    out = F::scaled_dot_product_attention(q, k, v,
                                          {.attn_mask = bias, .is_causal = causal, .dropout_p = p});
  }
  out = (*out_proj)(out.transpose(1, 2).reshape({B, T, E}));
  out = unbatched ? out.squeeze(0) : options.batch_first ? out : out.transpose(0, 1);
  return {out, weights};
}

// ---- TransformerEncoderLayer ----

TransformerEncoderLayer::TransformerEncoderLayer(std::int64_t d, std::int64_t h,
                                                 const TransformerEncoderLayerOptions& o)
    : d_model(d), nhead(h), options(o) {
  TG_CHECK(o.activation == "relu" || o.activation == "gelu" || o.activation == "gelu_tanh",
           "TransformerEncoderLayer: activation must be relu, gelu or gelu_tanh, got '",
           o.activation, "'");
  TG_CHECK(o.dim_feedforward > 0, "TransformerEncoderLayer: dim_feedforward must be positive, ",
           "got ", o.dim_feedforward);
  self_attn = register_module("self_attn",
                              std::make_shared<MultiheadAttention>(
                                  d, h, MultiheadAttentionOptions{o.dropout, true, o.batch_first}));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, o.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, d));
  const LayerNormOptions ln{.eps = o.layer_norm_eps};
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{d}, ln));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{d}, ln));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x, const EncoderCall& call) {
  AttentionCall a{.key_padding_mask = call.src_key_padding_mask,
                  .need_weights = false,
                  .attn_mask = call.src_mask,
                  .is_causal = call.is_causal};
  return (*dropout1)(self_attn->forward(x, x, x, a).first);
}

Tensor TransformerEncoderLayer::feed_forward_block(const Tensor& x) {
  Tensor h = (*linear1)(x);
  if (options.activation == "relu")
    h = relu(h);
  else
    h = gelu(h, options.activation == "gelu" ? "none" : "tanh");
  return (*dropout2)((*linear2)((*dropout)(h)));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const EncoderCall& call) {
  Tensor x = src;
  if (options.norm_first) {
    x = x + self_attention_block((*norm1)(x), call);
    return x + feed_forward_block((*norm2)(x));
  }
  x = (*norm1)(x + self_attention_block(x, call));
  return (*norm2)(x + feed_forward_block(x));
}

// ---- TransformerEncoder ----

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, std::int64_t n,
                                       std::optional<LayerNorm> final_norm)
    : num_layers(n) {
  TG_CHECK(n > 0, "TransformerEncoder: num_layers must be positive, got ", n);
  layers = register_module("layers", std::make_shared<ModuleList>());
  const StateDict state = layer.state_dict();
  for (std::int64_t i = 0; i < n; ++i) {
    auto copy =
        std::make_shared<TransformerEncoderLayer>(layer.d_model, layer.nhead, layer.options);
    // Same dtype as the layer (a float64 layer makes float64 copies), then the same values.
    copy->to(layer.norm1->weight.defined() ? layer.norm1->weight.dtype()
                                           : layer.self_attn->in_proj_weight.dtype());
    copy->load_state_dict(state);
    copy->train(layer.is_training());
    layers->push_back(copy);
  }
  if (final_norm)
    norm = register_module("norm", std::make_shared<LayerNorm>(std::move(*final_norm)));
}

Tensor TransformerEncoder::forward(const Tensor& src, const EncoderCall& call) {
  Tensor x = src;
  for (std::size_t i = 0; i < layers->size(); ++i) x = layer(i)(x, call);
  return norm ? (*norm)(x) : x;
}

}  // namespace tg::nn
