#include "models.h"

namespace char_lm {

using namespace tg;

namespace {
nn::TransformerEncoderLayer gpt_block(const ModelConfig& c) {
  return nn::TransformerEncoderLayer(c.n_embd, c.n_head,
                                     {.dim_feedforward = 4 * c.n_embd,
                                      .dropout = c.dropout,
                                      .activation = "gelu_tanh",
                                      .batch_first = true,
                                      .norm_first = true});
}
}  // namespace

GPT::GPT(const ModelConfig& c)
    : config(c),
      wte(c.vocab, c.n_embd),
      wpe(c.context, c.n_embd),
      blocks(gpt_block(c), c.n_layer),
      ln_f(Shape{c.n_embd}),
      head(c.n_embd, c.vocab) {
  register_modules(
      {{"wte", wte}, {"wpe", wpe}, {"blocks", blocks}, {"ln_f", ln_f}, {"head", head}});
  // GPT-2's init: weights N(0, 0.02), biases 0, LayerNorm 1 and 0. Small embeddings keep the
  // residual stream near unit scale at the start.
  for (auto& [name, p] : named_parameters()) {
    if (p.dim() >= 2)
      nn::init::normal_(p, 0.0, 0.02);
    else if (name.ends_with("bias"))
      nn::init::zeros_(p);
  }
}

Tensor GPT::forward(const Tensor& tokens) {
  TG_CHECK(tokens.dim() == 2 && tokens.size(1) <= config.context,
           "GPT: expected tokens of shape [B, T] with T <= ", config.context, ", got ",
           shape_str(tokens.shape()));
  const Tensor pos = arange(0, static_cast<double>(tokens.size(1)), 1, kInt64);
  Tensor x = wte(tokens) + wpe(pos);
  x = blocks(x, {.is_causal = true});
  return head(ln_f(x));
}

CharLSTM::CharLSTM(const ModelConfig& c)
    : config(c),
      wte(c.vocab, c.n_embd),
      lstm(c.n_embd, c.lstm_hidden, {.num_layers = 2, .batch_first = true, .dropout = c.dropout}),
      head(c.lstm_hidden, c.vocab) {
  register_modules({{"wte", wte}, {"lstm", lstm}, {"head", head}});
}

Tensor CharLSTM::forward(const Tensor& tokens) {
  TG_CHECK(tokens.dim() == 2, "CharLSTM: expected tokens of shape [B, T], got ",
           shape_str(tokens.shape()));
  return head(lstm(wte(tokens)));
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"gpt", "lstm"};
  return names;
}

std::unique_ptr<nn::Module> make_model(const std::string& name, const ModelConfig& config) {
  if (name == "gpt") return std::make_unique<GPT>(config);
  if (name == "lstm") return std::make_unique<CharLSTM>(config);
  TG_CHECK(false, "unknown --model '", name, "'");
  return nullptr;
}

}  // namespace char_lm
