// One tanh hidden layer of 50 units, trained on the squared error to one-hot targets by
// full-batch gradient descent on 1000 training images, tested on 1000 (seed notebook 002, which
// wrote this forward and backward pass by hand; tests/test_tanh_mse_backprop.cpp checks that
// hand-written backward against tapegrad's autograd).
//
//   ./tanh_mse_fullbatch                     # 1000/1000 subset, linear output layer
//   ./tanh_mse_fullbatch --output tanh       # tanh on the output too, as in the notebook
#include <tapegrad/tapegrad.h>

#include "common/harness.h"

using namespace tg;
namespace F = tg::nn::functional;

struct Net : nn::Module {
  nn::Linear fc1{784, 50}, fc2{50, 10};
  bool tanh_output;

  explicit Net(bool tanh_output) : tanh_output(tanh_output) {
    register_modules({{"fc1", fc1}, {"fc2", fc2}});
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = fc2(tanh(fc1(x)));
    return tanh_output ? tanh(out) : out;
  }
};

int main(int argc, char** argv) {
  examples::Options opts{.epochs = 1000,
                         .batch_size = 1000,
                         .lr = 0.1,
                         .plot = "tanh_mse_fullbatch.png",
                         .csv = "tanh_mse_fullbatch.csv",
                         .limit_train = 1000,
                         .limit_test = 1000};
  std::string output = "linear";
  std::int64_t log_every = 50;
  CLI::App app{"784-50-10 tanh MLP, squared error on one-hot targets, full-batch gradient descent"};
  examples::add_common_options(app, opts);
  app.add_option("--output", output, "output layer activation: linear or tanh (the notebook's)")
      ->check(CLI::IsMember({"linear", "tanh"}))
      ->capture_default_str();
  app.add_option("--log-every", log_every, "print the metrics every N steps")
      ->check(examples::positive())
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  examples::setup(opts);

  auto data = examples::load_data(opts, {.standardize = true});
  Net net(output == "tanh");
  optim::SGD opt(net.parameters(), {.lr = opts.lr});  // plain gradient descent

  // Each sample's target is the one-hot row of its label.
  auto loss_fn = [](const Tensor& out, const Tensor& y) {
    return F::mse_loss(out, one_hot(y, 10, kFloat32));
  };
  examples::Run run(opts, net, "tanh_mse_fullbatch", loss_fn, data);
  // --batch-size defaults to the whole training subset: one gradient step per epoch, so the
  // progress bar is off and a row is printed every --log-every steps.
  auto loader = run.train_loader(data.train, /*progress=*/false);
  for (std::int64_t epoch = 1; epoch <= opts.epochs; ++epoch) {
    for (auto& [x, y] : loader) {
      Tensor out = net(x);
      Tensor loss = loss_fn(out, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      run.record(loader, loss, out, y);
    }
    run.end_epoch(epoch, opt.lr(), {}, epoch % log_every == 0 || epoch == opts.epochs);
  }
  return run.finish();
}
