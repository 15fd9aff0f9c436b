// The LibTorch side of `compare net=char_lstm` (see char_lstm.h): torch::nn::LSTM.
#include <torch/torch.h>

#include "char_lstm.h"

namespace {
struct CharLSTM : torch::nn::Module {
  torch::nn::Embedding wte{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
  CharLSTM() {
    wte = register_module("wte", torch::nn::Embedding(kCharVocab, kCharEmbd));
    lstm = register_module(
        "lstm",
        torch::nn::LSTM(
            torch::nn::LSTMOptions(kCharEmbd, kCharHidden).num_layers(2).batch_first(true)));
    head = register_module("head", torch::nn::Linear(kCharHidden, kCharVocab));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return head->forward(std::get<0>(lstm->forward(wte->forward(x))));
  }
};
}  // namespace

double torch_char_lstm_step_ms(const CharBatches& b) {
  torch::manual_seed(1);
  auto net = std::make_shared<CharLSTM>();
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(2e-3));
  return median_step_ms(b, [&](std::size_t i) {
    auto x = torch::from_blob(const_cast<std::int64_t*>(b.x[i].data()), {b.batch, b.steps},
                              torch::kInt64);
    auto y = torch::from_blob(const_cast<std::int64_t*>(b.y[i].data()), {b.batch * b.steps},
                              torch::kInt64);
    auto loss = torch::nn::functional::cross_entropy(net->forward(x).reshape({-1, kCharVocab}), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    (void)loss.item<float>();
  });
}
