// The tapegrad side of `compare net=char_lstm` (see char_lstm.h).
#include <tapegrad/tapegrad.h>

#include "char_lstm.h"

namespace {
struct CharLSTM : tg::nn::Module {
  tg::nn::Embedding wte{kCharVocab, kCharEmbd};
  tg::nn::LSTM lstm{kCharEmbd, kCharHidden, {.num_layers = 2, .batch_first = true}};
  tg::nn::Linear head{kCharHidden, kCharVocab};
  CharLSTM() { register_modules({{"wte", wte}, {"lstm", lstm}, {"head", head}}); }
  tg::Tensor forward(const tg::Tensor& x) override { return head(lstm(wte(x))); }
};
}  // namespace

double tapegrad_char_lstm_step_ms(const CharBatches& b) {
  tg::manual_seed(1);
  CharLSTM net;
  tg::optim::AdamW opt(net.parameters(), {.lr = 2e-3});
  return median_step_ms(b, [&](std::size_t i) {
    const tg::Tensor x = tg::from_vector(b.x[i], {b.batch, b.steps});
    const tg::Tensor y = tg::from_vector(b.y[i], {b.batch * b.steps});
    const tg::Tensor loss = tg::nn::functional::cross_entropy(net(x).reshape({-1, kCharVocab}), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    (void)loss.item<float>();
  });
}
