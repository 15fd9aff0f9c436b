// Sigmoid networks [784, 30, 10] (or --deep [784, 100, 30, 10]) with a softmax output and
// log-loss, L2 regularization, SGD with momentum or Adagrad, dropout and optional rotation/shift
// augmentation (seed notebook 004: a lab whose tasks were exactly these changes, made by hand).
//
//   ./sigmoid_l2_momentum_adagrad
//   ./sigmoid_l2_momentum_adagrad --optimizer adagrad --lr 0.05 --deep --augment
#include <tapegrad/tapegrad.h>

#include <memory>

#include "common/harness.h"

using namespace tg;
namespace F = tg::nn::functional;

// Sigmoid hidden layers (Glorot init, which suits sigmoid) with dropout, then a linear output
// layer whose logits go to the softmax inside cross_entropy.
nn::Sequential make_net(const std::vector<std::int64_t>& sizes, double p) {
  nn::Sequential net;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    nn::Linear fc(sizes[i], sizes[i + 1]);
    nn::init::xavier_normal_(fc.weight);
    nn::init::zeros_(fc.bias);
    net.push_back(std::move(fc));
    if (i + 2 < sizes.size()) {
      net.push_back(nn::Sigmoid());
      if (p > 0.0) net.push_back(nn::Dropout(p));
    }
  }
  return net;
}

int main(int argc, char** argv) {
  examples::Options opts{.epochs = 20,
                         .batch_size = 100,
                         .lr = 0.1,
                         .plot = "sigmoid_l2_momentum_adagrad.png",
                         .csv = "sigmoid_l2_momentum_adagrad.csv"};
  std::string optimizer = "momentum";
  double momentum = 0.9, l2 = 1e-4, dropout = 0.1;
  bool deep = false, augment = false;
  CLI::App app{
      "Sigmoid MLP with softmax + log-loss, L2, momentum or Adagrad, dropout, augmentation"};
  examples::add_common_options(app, opts);
  app.add_option("--optimizer", optimizer, "momentum (SGD with momentum) or adagrad")
      ->check(CLI::IsMember({"momentum", "adagrad"}))
      ->capture_default_str();
  app.add_option("--momentum", momentum, "momentum of the SGD optimizer")->capture_default_str();
  app.add_option("--l2", l2, "L2 regularization strength (weights only)")->capture_default_str();
  app.add_option("--dropout", dropout, "drop probability after each hidden layer")
      ->check(examples::probability())
      ->capture_default_str();
  app.add_flag("--deep", deep, "use [784, 100, 30, 10] instead of [784, 30, 10]");
  app.add_flag("--augment", augment,
               "random rotations (+-10 degrees) and shifts (+-2 px) of each training batch, plus "
               "horizontal flips on Fashion-MNIST");
  CLI11_PARSE(app, argc, argv);
  examples::setup(opts);

  auto data = examples::load_data(opts);  // pixels in [0, 1], as in the notebook
  nn::Sequential net = make_net(
      deep ? std::vector<std::int64_t>{784, 100, 30, 10} : std::vector<std::int64_t>{784, 30, 10},
      dropout);
  std::unique_ptr<optim::Optimizer> opt;
  if (optimizer == "adagrad")
    opt = std::make_unique<optim::Adagrad>(net.parameters(), optim::AdagradOptions{.lr = opts.lr});
  else
    opt = std::make_unique<optim::SGD>(net.parameters(),
                                       optim::SGDOptions{.lr = opts.lr, .momentum = momentum});
  // L2 on the weights, applied as its own step w -= lr * l2 * w: kept out of the gradient so
  // that Adagrad's accumulated squares see only the loss gradient (the notebook's warning).
  std::vector<Tensor> weights;
  for (const auto& [name, p] : net.named_parameters())
    if (name.ends_with("weight")) weights.push_back(p);

  datasets::AugmentOptions aug{
      .max_degrees = 10.0, .max_shift = 2, .hflip_prob = opts.dataset == "fashion" ? 0.5 : 0.0};
  Generator aug_gen(opts.seed + 1);

  auto loss_fn = [](const Tensor& logits, const Tensor& y) { return F::cross_entropy(logits, y); };
  examples::Run run(opts, net, "sigmoid_l2_" + optimizer + (deep ? " (deep)" : ""), loss_fn, data);
  auto loader = run.train_loader(data.train);
  for (std::int64_t epoch = 1; epoch <= opts.epochs; ++epoch) {
    net.train();
    for (auto& [x, y] : loader) {
      Tensor input = augment ? datasets::augment(x, aug, aug_gen) : x;
      Tensor logits = net(input);
      Tensor loss = loss_fn(logits, y);
      opt->zero_grad();
      loss.backward();
      opt->step();
      {
        NoGradGuard no_grad;
        for (auto& w : weights) w.mul_(1.0 - opt->lr() * l2);
      }
      run.record(loader, loss, logits, y);
    }
    run.end_epoch(epoch, opt->lr());
  }
  return run.finish();
}
