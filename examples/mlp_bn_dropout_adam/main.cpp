// The flagship: a 784-1024-512-10 ReLU network with batch norm and dropout, He init, trained with
// Adam (seed notebook 000, which derived every one of these by hand on MNIST).
//
//   ./mlp_bn_dropout_adam                      # Fashion-MNIST, default options
//   ./mlp_bn_dropout_adam --epochs 30 --lr 1e-4 --dataset mnist --data-dir data/mnist
#include <tapegrad/tapegrad.h>

#include "common/harness.h"

using namespace tg;
namespace F = tg::nn::functional;

// Linear -> BatchNorm -> ReLU -> Dropout, twice, then the output layer. The notebook's keep
// probabilities 0.6 and 0.75 are drop probabilities 0.4 and 0.25.
struct Net : nn::Module {
  nn::Linear fc1{784, 1024}, fc2{1024, 512}, fc3{512, 10};
  nn::BatchNorm1d bn1{1024}, bn2{512};
  nn::Dropout drop1, drop2;

  Net(double p1, double p2) : drop1(p1), drop2(p2) {
    register_modules({{"fc1", fc1},
                      {"bn1", bn1},
                      {"drop1", drop1},
                      {"fc2", fc2},
                      {"bn2", bn2},
                      {"drop2", drop2},
                      {"fc3", fc3}});
    for (nn::Linear* fc : {&fc1, &fc2, &fc3}) {  // He init: std = sqrt(2 / fan_in)
      nn::init::kaiming_normal_(fc->weight, {.nonlinearity = nn::init::Nonlinearity::ReLU});
      nn::init::zeros_(fc->bias);
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = drop1(relu(bn1(fc1(x))));
    h = drop2(relu(bn2(fc2(h))));
    return fc3(h);  // logits; cross_entropy applies the softmax
  }
};

int main(int argc, char** argv) {
  examples::Options opts{.epochs = 12,
                         .batch_size = 128,
                         .lr = 1e-3,
                         .plot = "mlp_bn_dropout_adam.png",
                         .csv = "mlp_bn_dropout_adam.csv"};
  double p1 = 0.4, p2 = 0.25, weight_decay = 0.0;
  CLI::App app{"784-1024-512-10 ReLU MLP with batch norm, dropout, He init and Adam"};
  examples::add_common_options(app, opts);
  app.add_option("--dropout1", p1, "drop probability after the first hidden layer")
      ->check(examples::probability())
      ->capture_default_str();
  app.add_option("--dropout2", p2, "drop probability after the second hidden layer")
      ->check(examples::probability())
      ->capture_default_str();
  app.add_option("--weight-decay", weight_decay, "Adam's L2 penalty")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  examples::setup(opts);

  auto data = examples::load_data(opts, {.standardize = true});
  Net net(p1, p2);
  examples::Run run(
      opts, net, "mlp_bn_dropout_adam",
      [](const Tensor& logits, const Tensor& y) { return F::cross_entropy(logits, y); }, data);
  // Adam over net.parameters(); under mpirun each rank steps only its share of them.
  auto opt = run.make_optimizer([&](std::vector<Tensor> params) {
    return std::make_unique<optim::Adam>(
        std::move(params), optim::AdamOptions{.lr = opts.lr, .weight_decay = weight_decay});
  });
  // Cosine decay of the rate over the run: the last epochs settle into a minimum.
  optim::CosineAnnealingLR schedule(*opt, {.T_max = opts.epochs});

  auto loader = run.train_loader(data.train);
  for (std::int64_t epoch = 1; epoch <= opts.epochs; ++epoch) {
    net.train();
    for (auto& [x, y] : loader) {
      Tensor logits = net(x);
      Tensor loss = F::cross_entropy(logits, y);
      opt->zero_grad();
      loss.backward();
      opt->step();
      run.record(loader, loss, logits, y);
    }
    run.end_epoch(epoch, opt->lr());
    schedule.step();
  }
  return run.finish();
}
