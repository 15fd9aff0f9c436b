// The tapegrad side of `compare net=char_lstm` (see char_lstm.h).
#include <tapegrad/tapegrad.h>

#include <algorithm>
#include <chrono>

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
  std::vector<double> ms;
  for (std::size_t i = 0; i < b.x.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    const tg::Tensor x = tg::from_vector(b.x[i], {b.batch, b.steps});
    const tg::Tensor y = tg::from_vector(b.y[i], {b.batch * b.steps});
    const tg::Tensor loss = tg::nn::functional::cross_entropy(net(x).reshape({-1, kCharVocab}), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    (void)loss.item<float>();
    if (i >= 3)  // warm-up
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
