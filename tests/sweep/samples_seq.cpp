// Samples for the sequence-model ops and layers: embedding (repeated indices, padding_idx),
// layer_norm (both backward paths: gradcheck runs the fused kernel, gradgradcheck the
// differentiable formula), rms_norm, tril/triu, gelu's tanh approximation, scaled dot-product
// attention (causal, boolean and float masks) and the attention modules in float64.
#include <memory>

#include "sweep/op_table.h"
#include "tapegrad/tapegrad.h"  // these samples span ops and nn modules

namespace tg::sweep {
// One sample per line, like samples_core.cpp: the table reads better unwrapped.
// clang-format off
namespace {

namespace F = nn::functional;

Tensor labels(std::vector<std::int64_t> values, Shape shape = {}) { return from_vector(values, shape); }
// Like PyTorch, the padding row gets no gradient although the forward reads it, which finite
// differences would see: the padding samples zero that row of the weight first (a constant
// mask), so both sides agree and the other rows, repeats and double backward are still checked.
Tensor without_row(const Tensor& w, std::int64_t row) {
  Tensor mask = ones({w.size(0), 1}, w.dtype());
  mask.set({row, 0}, 0.0);
  return w * mask;
}
Tensor bools(std::vector<std::uint8_t> values, Shape shape) { return from_vector(values, shape); }

// Modules built once, in float64, from a fixed seed, and evaluated without dropout.
nn::MultiheadAttention& mha(bool batch_first) {
  static std::shared_ptr<nn::MultiheadAttention> m[2];
  auto& p = m[batch_first ? 1 : 0];
  if (!p) {
    manual_seed(7);
    p = std::make_shared<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.batch_first = batch_first});
    p->to(kFloat64);
    for (auto& t : p->parameters()) nn::init::normal_(t, 0.0, 0.5);  // non-zero biases too
  }
  return *p;
}
nn::TransformerEncoderLayer& encoder_layer(bool norm_first) {
  static std::shared_ptr<nn::TransformerEncoderLayer> m[2];
  auto& p = m[norm_first ? 1 : 0];
  if (!p) {
    manual_seed(11);
    p = std::make_shared<nn::TransformerEncoderLayer>(4, 2, nn::TransformerEncoderLayerOptions{.dim_feedforward = 6, .dropout = 0.0, .activation = norm_first ? "gelu" : "relu", .batch_first = true, .norm_first = norm_first});
    p->to(kFloat64);
  }
  return *p;
}

// Built before the sweep counts live tensors (static initialization): these modules live for the
// whole run, which the sweep's leak check would otherwise take for tensors a closure captured.
[[maybe_unused]] const bool kModulesBuilt =
    (mha(false), mha(true), encoder_layer(false), encoder_layer(true), true);

}  // namespace

TG_OP_SAMPLES(seq_embedding) {
  return {
      {"embedding", "1-d indices", [](const In& x) { return F::embedding(x[0], labels({0, 2, 1, 4})); }, [] { return In{rnd({5, 3})}; }},
      {"embedding", "2-d indices, repeated rows", [](const In& x) { return F::embedding(x[0], labels({1, 3, 1, 1, 0, 3}, {2, 3})); }, [] { return In{rnd({4, 2})}; }},
      {"embedding", "padding_idx with repeats", [](const In& x) { return F::embedding(without_row(x[0], 2), labels({2, 0, 2, 1, 2}), 2); }, [] { return In{rnd({3, 4})}; }},
      {"embedding", "negative padding_idx", [](const In& x) { return F::embedding(without_row(x[0], 3), labels({3, 0, 3, 1}, {2, 2}), -1); }, [] { return In{rnd({4, 3})}; }},
      {"embedding", "non-contiguous weight", [](const In& x) { return F::embedding(x[0], labels({2, 1, 2})); }, [] { return In{noncontig({3, 4})}; }},
      {"embedding", "0-dim index", [](const In& x) { return F::embedding(x[0], labels({1}).reshape({})); }, [] { return In{rnd({3, 2})}; }},
      {"embedding", "empty indices", [](const In& x) { return F::embedding(x[0], labels({}, {0})); }, [] { return In{rnd({3, 2})}; }},
  };
}

TG_OP_SAMPLES(seq_norms) {
  return {
      {"layer_norm", "weight and bias, last dim", [](const In& x) { return F::layer_norm(x[0], {4}, x[1], x[2]); }, [] { return In{rnd({3, 4}), rnd({4}), rnd({4})}; }},
      {"layer_norm", "two normalized dims", [](const In& x) { return F::layer_norm(x[0], {3, 4}, x[1], x[2]); }, [] { return In{rnd({2, 3, 4}), rnd({3, 4}), rnd({3, 4})}; }},
      {"layer_norm", "no affine", [](const In& x) { return F::layer_norm(x[0], {5}); }, [] { return In{rnd({2, 5})}; }},
      {"layer_norm", "bias only, eps 0.1", [](const In& x) { return F::layer_norm(x[0], {4}, Tensor(), x[1], 0.1); }, [] { return In{rnd({3, 4}), rnd({4})}; }},
      {"layer_norm", "non-contiguous input", [](const In& x) { return F::layer_norm(x[0], {3}, x[1], x[2]); }, [] { return In{noncontig({4, 3}), rnd({3}), rnd({3})}; }},
      {"layer_norm", "the whole tensor normalized", [](const In& x) { return F::layer_norm(x[0], {4}, x[1], x[2]); }, [] { return In{rnd({4}), rnd({4}), rnd({4})}; }},
      {"layer_norm", "constant weight, 3-d input", [](const In& x) { return F::layer_norm(x[0], {3}, x[1]); }, [] { return In{rnd({2, 2, 3}), constant({3})}; }},
      {"layer_norm", "size-1 normalized dim", [](const In& x) { return F::layer_norm(x[0], {1}, x[1], x[2]) * x[0]; }, [] { return In{rnd({3, 1}), rnd({1}), rnd({1})}; }},
      {"rms_norm", "weight", [](const In& x) { return F::rms_norm(x[0], {4}, x[1]); }, [] { return In{rnd({3, 4}), rnd({4})}; }},
      {"rms_norm", "no weight, eps 1e-3, two dims, non-contiguous", [](const In& x) { return F::rms_norm(x[0], {3, 2}, Tensor(), 1e-3); }, [] { return In{noncontig({2, 3, 2})}; }},
  };
}

TG_OP_SAMPLES(seq_triangles_gelu) {
  return {
      {"tril", "square", [](const In& x) { return tril(x[0]); }, [] { return In{rnd({4, 4})}; }},
      {"tril", "batched, diagonal -1, non-contiguous", [](const In& x) { return tril(x[0], -1); }, [] { return In{noncontig({2, 3, 4})}; }},
      {"triu", "wide, diagonal 1", [](const In& x) { return triu(x[0], 1); }, [] { return In{rnd({3, 5})}; }},
      {"triu", "batched, diagonal -2", [](const In& x) { return triu(x[0], -2); }, [] { return In{rnd({2, 4, 3})}; }},
      {"gelu_tanh", "plain", [](const In& x) { return gelu(x[0], "tanh"); }, [] { return In{rnd({3, 4})}; }},
      {"gelu_tanh", "large values", [](const In& x) { return gelu(x[0] * 4.0, "tanh"); }, [] { return In{noncontig({3, 2})}; }},
  };
}

TG_OP_SAMPLES(seq_attention) {
  using F::AttentionOptions;
  return {
      {"scaled_dot_product_attention", "plain [B, H, T, D]", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2]); }, [] { return In{rnd({2, 2, 3, 4}), rnd({2, 2, 5, 4}), rnd({2, 2, 5, 3})}; }},
      {"scaled_dot_product_attention", "causal", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], {.is_causal = true}); }, [] { return In{rnd({1, 2, 4, 3}), rnd({1, 2, 4, 3}), rnd({1, 2, 4, 3})}; }},
      {"scaled_dot_product_attention", "causal, fewer queries than keys", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], {.is_causal = true}); }, [] { return In{rnd({2, 3, 2}), rnd({2, 4, 2}), rnd({2, 4, 2})}; }},
      {"scaled_dot_product_attention", "boolean mask broadcast over batch", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], {.attn_mask = bools({1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1}, {3, 4})}); }, [] { return In{rnd({2, 3, 2}), rnd({2, 4, 2}), rnd({2, 4, 3})}; }},
      {"scaled_dot_product_attention", "float mask, scale 0.3", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], {.attn_mask = x[3], .scale = 0.3}); }, [] { return In{rnd({2, 3, 2}), rnd({2, 4, 2}), rnd({2, 4, 2}), constant({1, 3, 4})}; }},
      {"scaled_dot_product_attention", "non-contiguous q, k, v", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2]); }, [] { return In{noncontig({2, 3, 2}), noncontig({2, 3, 2}), noncontig({2, 3, 2})}; }},
      {"multihead_attention", "self-attention, batch_first, causal + key padding", [](const In& x) { return mha(true).forward(x[0], x[0], x[0], {.key_padding_mask = bools({0, 0, 1, 0, 0, 0}, {2, 3}), .need_weights = false, .is_causal = true}).first; }, [] { return In{rnd({2, 3, 4})}; }},
      {"multihead_attention", "cross-attention [T, B, E], float attn_mask, weights", [](const In& x) { auto [o, w] = mha(false).forward(x[0], x[1], x[1], {.attn_mask = x[2]}); return o.sum() + (w * w).sum(); }, [] { return In{rnd({2, 2, 4}), rnd({3, 2, 4}), constant({2, 3})}; }},
      {"multihead_attention", "unbatched, boolean attn_mask, unaveraged weights", [](const In& x) { auto [o, w] = mha(false).forward(x[0], x[1], x[2], {.attn_mask = bools({0, 1, 0, 0, 0, 1}, {2, 3}), .average_attn_weights = false}); return o.sum() + (w * w).sum(); }, [] { return In{rnd({2, 4}), rnd({3, 4}), rnd({3, 4})}; }},
      {"transformer_encoder_layer", "post-LN, relu, key padding", [](const In& x) { return encoder_layer(false)(x[0], {.src_key_padding_mask = bools({0, 0, 1}, {1, 3})}); }, [] { return In{rnd({1, 3, 4})}; }},
      {"transformer_encoder_layer", "pre-LN, gelu, causal", [](const In& x) { return encoder_layer(true)(x[0], {.is_causal = true}); }, [] { return In{rnd({2, 3, 4})}; }},
      // The fused kernel (no mask, no dropout) on the head views MultiheadAttention passes it:
      // [B, T, H, D] storage seen as [B, H, T, D], and causal with more queries than keys.
      {"scaled_dot_product_attention", "causal on transposed head views", [](const In& x) { return F::scaled_dot_product_attention(x[0].transpose(1, 2), x[1].transpose(1, 2), x[2].transpose(1, 2), {.is_causal = true}); }, [] { return In{rnd({2, 3, 2, 2}), rnd({2, 3, 2, 2}), rnd({2, 3, 2, 3})}; }},
      {"scaled_dot_product_attention", "causal, more queries than keys, scale 0.7", [](const In& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], {.is_causal = true, .scale = 0.7}); }, [] { return In{rnd({4, 2}), rnd({3, 2}), rnd({3, 2})}; }},
  };
}

// clang-format on

}  // namespace tg::sweep
