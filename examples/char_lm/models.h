#pragma once
// The models of the character-level language model. Each maps int64 tokens [B, T] to logits
// [B, T, vocab] through nn::Module::forward, so the training loop does not know which it runs.
// To add a model: a class here, its name in model_names() and a branch in make_model().
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace char_lm {

struct ModelConfig {
  std::int64_t vocab = 27;
  std::int64_t context = 32;  // longest input sequence
  std::int64_t n_embd = 128;
  std::int64_t n_layer = 4;
  std::int64_t n_head = 4;
  double dropout = 0.0;
  std::int64_t lstm_hidden = 256;  // --model lstm: hidden size of each LSTM layer
};

// A GPT: token + position embeddings, n_layer pre-LN blocks of causal self-attention
// (n_head heads) and a 4x GELU MLP (GPT-2's tanh approximation), a final LayerNorm and a
// linear head.
class GPT : public tg::nn::Module {
 public:
  explicit GPT(const ModelConfig& config);
  tg::Tensor forward(const tg::Tensor& tokens) override;

  ModelConfig config;
  tg::nn::Embedding wte, wpe;
  tg::nn::TransformerEncoder blocks;
  tg::nn::LayerNorm ln_f;
  tg::nn::Linear head;
};

// Embedding(vocab, n_embd) -> 2-layer LSTM(hidden lstm_hidden, batch_first, dropout between
// the layers) -> Linear(lstm_hidden, vocab). Causal by construction: each step sees only the
// tokens before it.
class CharLSTM : public tg::nn::Module {
 public:
  explicit CharLSTM(const ModelConfig& config);
  tg::Tensor forward(const tg::Tensor& tokens) override;

  ModelConfig config;
  tg::nn::Embedding wte;
  tg::nn::LSTM lstm;
  tg::nn::Linear head;
};

const std::vector<std::string>& model_names();
std::unique_ptr<tg::nn::Module> make_model(const std::string& name, const ModelConfig& config);

}  // namespace char_lm
