// The LibTorch side of `compare net=char_gpt` (see char_gpt.h). LibTorch 1.13 has no fused
// attention, so attention is written with matmul, a causal mask and softmax, as a user of 1.13
// writes it.
#include <torch/torch.h>

#include <cmath>

#include "char_gpt.h"

namespace {
struct Block : torch::nn::Module {
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  torch::nn::Linear in_proj{nullptr}, out_proj{nullptr}, fc1{nullptr}, fc2{nullptr};
  Block() {
    const std::vector<std::int64_t> e{kGptEmbd};
    ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions(e)));
    ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions(e)));
    in_proj = register_module("in_proj", torch::nn::Linear(kGptEmbd, 3 * kGptEmbd));
    out_proj = register_module("out_proj", torch::nn::Linear(kGptEmbd, kGptEmbd));
    fc1 = register_module("fc1", torch::nn::Linear(kGptEmbd, 4 * kGptEmbd));
    fc2 = register_module("fc2", torch::nn::Linear(4 * kGptEmbd, kGptEmbd));
  }
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& causal) {
    const std::int64_t B = x.size(0), T = x.size(1), H = kGptHeads, D = kGptEmbd / kGptHeads;
    auto qkv = in_proj->forward(x).chunk(3, -1);
    auto heads = [&](const torch::Tensor& t) { return t.reshape({B, T, H, D}).transpose(1, 2); };
    const auto q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(D)));
    scores = scores.masked_fill(causal, -INFINITY);
    const auto out = torch::matmul(torch::softmax(scores, -1), v);
    return out_proj->forward(out.transpose(1, 2).reshape({B, T, kGptEmbd}));
  }
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& causal) {
    x = x + attention(ln1->forward(x), causal);
    return x + fc2->forward(torch::gelu(fc1->forward(ln2->forward(x)), "tanh"));
  }
};

struct CharGPT : torch::nn::Module {
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  std::vector<std::shared_ptr<Block>> blocks;
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear head{nullptr};
  CharGPT() {
    wte = register_module("wte", torch::nn::Embedding(kCharVocab, kGptEmbd));
    wpe = register_module("wpe", torch::nn::Embedding(kGptContext, kGptEmbd));
    for (std::int64_t i = 0; i < kGptLayers; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), std::make_shared<Block>()));
    ln_f = register_module(
        "ln_f",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions(std::vector<std::int64_t>{kGptEmbd})));
    head = register_module("head", torch::nn::Linear(kGptEmbd, kCharVocab));
    torch::NoGradGuard no_grad;
    for (auto& p : named_parameters()) {
      if (p.value().dim() >= 2)
        p.value().normal_(0.0, 0.02);
      else if (p.key().size() >= 4 && p.key().substr(p.key().size() - 4) == "bias")
        p.value().zero_();
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const std::int64_t T = x.size(1);
    const auto causal = torch::ones({T, T}, torch::kBool).triu(1);
    auto h = wte->forward(x) + wpe->forward(torch::arange(T, torch::kInt64));
    for (auto& b : blocks) h = b->forward(h, causal);
    return head->forward(ln_f->forward(h));
  }
};
}  // namespace

double torch_char_gpt_step_ms(const CharBatches& b) {
  torch::manual_seed(1);
  auto net = std::make_shared<CharGPT>();
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : net->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay,
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(2e-3).betas({0.9, 0.99}).weight_decay(0.1)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(2e-3).betas({0.9, 0.99}).weight_decay(0.0)));
  torch::optim::AdamW opt(std::move(groups), torch::optim::AdamWOptions(2e-3));
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
