// A deep, narrow ReLU network [784, 500, 200, 100, 30, 30, 30, 10] with a softmax output, trained
// by SGD with weight decay on cross-entropy or on the squared error of the softmax probabilities
// (seed notebook 001, which wrote the softmax Jacobian and both losses' derivatives by hand).
//
//   ./deep_mlp_sgd                  # cross-entropy
//   ./deep_mlp_sgd --loss mse       # squared error between softmax(logits) and one-hot labels
#include <tapegrad/tapegrad.h>

#include "common/harness.h"

using namespace tg;
namespace F = tg::nn::functional;

// Linear + ReLU per hidden size, then a linear layer to the 10 classes (the softmax lives in
// the loss). He init suits ReLU: it keeps the activations' scale through the six layers.
nn::Sequential make_net(const std::vector<std::int64_t>& hidden) {
  nn::Sequential net;
  std::int64_t in = 784;
  for (std::int64_t h : hidden) {
    nn::Linear fc(in, h);
    nn::init::kaiming_normal_(fc.weight, {.nonlinearity = nn::init::Nonlinearity::ReLU});
    nn::init::zeros_(fc.bias);
    net.push_back(std::move(fc));
    net.push_back(nn::ReLU());
    in = h;
  }
  net.push_back(nn::Linear(in, 10));
  return net;
}

int main(int argc, char** argv) {
  examples::Options opts{.epochs = 15,
                         .batch_size = 64,
                         .lr = 0.05,
                         .plot = "deep_mlp_sgd.png",
                         .csv = "deep_mlp_sgd.csv"};
  std::vector<std::int64_t> hidden = {500, 200, 100, 30, 30, 30};
  std::string loss_name = "ce";
  double momentum = 0.9, weight_decay = 5e-4;
  CLI::App app{"Deep ReLU MLP [500,200,100,30,30,30] + softmax, SGD with weight decay"};
  examples::add_common_options(app, opts);
  app.add_option("--loss", loss_name, "ce: cross-entropy; mse: squared error of the softmax")
      ->check(CLI::IsMember({"ce", "mse"}))
      ->capture_default_str();
  app.add_option("--hidden", hidden, "hidden layer sizes")->capture_default_str();
  app.add_option("--momentum", momentum, "SGD momentum (0: plain SGD)")->capture_default_str();
  app.add_option("--weight-decay", weight_decay, "L2 penalty added to the gradient")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // The squared error's gradient is much smaller than cross-entropy's: it needs a larger rate.
  if (loss_name == "mse" && app.count("--lr") == 0) opts.lr = 0.5;
  examples::setup(opts);

  auto data = examples::load_data(opts, {.standardize = true});
  nn::Sequential net = make_net(hidden);
  optim::SGD opt(net.parameters(),
                 {.lr = opts.lr, .momentum = momentum, .weight_decay = weight_decay});
  // Cosine decay of the rate to zero over the run: a constant rate leaves the test accuracy
  // jumping by a point from epoch to epoch.
  optim::CosineAnnealingLR schedule(opt, {.T_max = opts.epochs});

  // Both losses take logits and class labels; the softmax is applied inside.
  auto loss_fn = [&](const Tensor& logits, const Tensor& y) {
    if (loss_name == "ce") return F::cross_entropy(logits, y);
    return F::mse_loss(F::softmax(logits, 1), one_hot(y, 10, kFloat32));
  };
  examples::Run run(opts, net, "deep_mlp_sgd (" + loss_name + ")", loss_fn, data);
  auto loader = run.train_loader(data.train);
  for (std::int64_t epoch = 1; epoch <= opts.epochs; ++epoch) {
    net.train();
    for (auto& [x, y] : loader) {
      Tensor logits = net(x);
      Tensor loss = loss_fn(logits, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      run.record(loader, loss, logits, y);
    }
    run.end_epoch(epoch, opt.lr());
    schedule.step();
  }
  return run.finish();
}
