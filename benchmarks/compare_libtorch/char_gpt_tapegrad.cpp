// The tapegrad side of `compare net=char_gpt` (see char_gpt.h): the example's model, built from
// nn::TransformerEncoder as examples/char_lm/models.cpp builds it.
#include <tapegrad/tapegrad.h>

#include "char_gpt.h"

namespace {
struct CharGPT : tg::nn::Module {
  tg::nn::Embedding wte{kCharVocab, kGptEmbd}, wpe{kGptContext, kGptEmbd};
  tg::nn::TransformerEncoder blocks{
      tg::nn::TransformerEncoderLayer(kGptEmbd, kGptHeads,
                                      {.dim_feedforward = 4 * kGptEmbd,
                                       .dropout = 0.0,
                                       .activation = "gelu_tanh",
                                       .batch_first = true,
                                       .norm_first = true}),
      kGptLayers};
  tg::nn::LayerNorm ln_f{tg::Shape{kGptEmbd}};
  tg::nn::Linear head{kGptEmbd, kCharVocab};
  CharGPT() {
    register_modules(
        {{"wte", wte}, {"wpe", wpe}, {"blocks", blocks}, {"ln_f", ln_f}, {"head", head}});
    for (auto& [name, p] : named_parameters()) {
      if (p.dim() >= 2)
        tg::nn::init::normal_(p, 0.0, 0.02);
      else if (name.ends_with("bias"))
        tg::nn::init::zeros_(p);
    }
  }
  tg::Tensor forward(const tg::Tensor& x) override {
    const tg::Tensor pos = tg::arange(0, static_cast<double>(x.size(1)), 1, tg::kInt64);
    return head(ln_f(blocks(wte(x) + wpe(pos), {.is_causal = true})));
  }
};
}  // namespace

double tapegrad_char_gpt_step_ms(const CharBatches& b) {
  tg::manual_seed(1);
  CharGPT net;
  std::vector<tg::Tensor> decay, no_decay;
  for (auto& p : net.parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  tg::optim::AdamW opt(decay, {.lr = 2e-3, .betas = {0.9, 0.99}, .weight_decay = 0.1});
  opt.add_param_group(no_decay, {.lr = 2e-3, .betas = {0.9, 0.99}, .weight_decay = 0.0});
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
