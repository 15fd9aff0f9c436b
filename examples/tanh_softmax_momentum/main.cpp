// 784-89-10: tanh hidden layer (89 = sqrt(784 * 10) units), linear output, softmax
// cross-entropy, SGD with momentum and a learning rate decaying from --lr to --final-lr, Glorot
// init, dropout, and early stopping that restores the best weights (seed notebook 003, which
// built Operation/Layer/Loss/Optimizer/Trainer classes by hand). --big trains 784-178-46-10.
//
//   ./tanh_softmax_momentum
//   ./tanh_softmax_momentum --big --decay linear --epochs 40
#include <tapegrad/tapegrad.h>

#include <algorithm>

#include "common/harness.h"

using namespace tg;
namespace F = tg::nn::functional;

// tanh layers with dropout after each, then a linear output layer; Glorot (Xavier) init.
nn::Sequential make_net(const std::vector<std::int64_t>& hidden, double p) {
  nn::Sequential net;
  std::int64_t in = 784;
  auto glorot = [](nn::Linear fc) {
    nn::init::xavier_normal_(fc.weight);
    nn::init::zeros_(fc.bias);
    return fc;
  };
  for (std::int64_t h : hidden) {
    net.push_back(glorot(nn::Linear(in, h)));
    net.push_back(nn::Tanh());
    net.push_back(nn::Dropout(p));
    in = h;
  }
  net.push_back(glorot(nn::Linear(in, 10)));
  return net;
}

int main(int argc, char** argv) {
  examples::Options opts{.epochs = 30,
                         .batch_size = 64,
                         .lr = 0.05,
                         .plot = "tanh_softmax_momentum.png",
                         .csv = "tanh_softmax_momentum.csv"};
  double final_lr = 0.005, momentum = 0.9, dropout = 0.2;
  std::string decay = "exponential";
  bool big = false;
  optim::EarlyStoppingOptions stopping{.eval_every = 5, .patience = 1};
  std::int64_t val_size = 5000;
  CLI::App app{"784-89-10 tanh MLP, softmax cross-entropy, SGD momentum, LR decay, early stopping"};
  examples::add_common_options(app, opts);
  app.add_flag("--big", big, "train 784-178-46-10 instead of 784-89-10");
  app.add_option("--final-lr", final_lr, "learning rate of the last epoch")->capture_default_str();
  app.add_option("--decay", decay, "how the rate goes from --lr to --final-lr")
      ->check(CLI::IsMember({"linear", "exponential"}))
      ->capture_default_str();
  app.add_option("--momentum", momentum, "SGD momentum")->capture_default_str();
  app.add_option("--dropout", dropout, "drop probability after each tanh layer")
      ->check(examples::probability())
      ->capture_default_str();
  app.add_option("--eval-every", stopping.eval_every, "early stopping: validate every N epochs")
      ->check(examples::positive())
      ->capture_default_str();
  app.add_option("--patience", stopping.patience, "stop after N validations without improvement")
      ->check(examples::positive())
      ->capture_default_str();
  app.add_option("--val-size", val_size, "training samples held out for validation")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  examples::setup(opts);

  auto data = examples::load_data(opts, {.standardize = true});
  auto [train, val] = examples::split_validation(data.train, val_size);
  nn::Sequential net =
      make_net(big ? std::vector<std::int64_t>{178, 46} : std::vector<std::int64_t>{89}, dropout);
  optim::SGD opt(net.parameters(), {.lr = opts.lr, .momentum = momentum});
  // The rate reaches --final-lr at the last epoch (DecayLR needs two epochs to decay over).
  optim::DecayLR schedule(
      opt, {.final_lr = final_lr,
            .epochs = std::max<std::int64_t>(opts.epochs, 2),
            .decay = decay == "linear" ? optim::Decay::Linear : optim::Decay::Exponential});
  optim::EarlyStopping stopper(net, stopping);

  auto loss_fn = [](const Tensor& logits, const Tensor& y) { return F::cross_entropy(logits, y); };
  examples::Run run(opts, net, big ? "tanh_softmax_momentum (big)" : "tanh_softmax_momentum",
                    loss_fn, data);
  run.set_validation(val);  // the table shows validation loss; the test set waits for the end
  auto loader = run.train_loader(train);
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
    const auto validation = run.end_epoch(epoch, opt.lr());
    schedule.step();
    const bool last = epoch == opts.epochs;
    if ((stopper.should_evaluate(epoch) || last) && stopper.step(epoch, validation.loss)) {
      run.note("validation loss rose at epoch " + std::to_string(epoch) + ": stopping");
      break;
    }
  }
  stopper.restore();  // the best validated weights, whether training stopped early or not
  run.note("using the weights of epoch " + std::to_string(stopper.best_epoch()) +
           " (validation loss " + std::to_string(stopper.best_loss()) + ")");
  return run.finish();
}
