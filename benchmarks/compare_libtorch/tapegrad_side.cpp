// The tapegrad side: the same networks written with tapegrad's nn modules, trained in the same
// batch order as the LibTorch side.
#include "tapegrad_side.h"

#include "timing.h"

#include <tapegrad/tapegrad.h>
#include <chrono>

namespace {

std::shared_ptr<tg::nn::Sequential> build(const NetSpec& spec) {
  namespace nn = tg::nn;
  if (spec.cnn)  // as in examples/cnn_fashion
    return std::make_shared<nn::Sequential>(
        nn::Unflatten(1, {1, 28, 28}), nn::Conv2d(1, 32, 3, {.padding = 1, .bias = false}),
        nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
        nn::Conv2d(32, 64, 3, {.padding = 1, .bias = false}), nn::BatchNorm2d(64), nn::ReLU(),
        nn::MaxPool2d(2), nn::Flatten(), nn::Linear(3136, 128), nn::ReLU(),
        nn::Dropout(spec.dropout.at(0)), nn::Linear(128, 10));
  auto net = std::make_shared<tg::nn::Sequential>();
  std::int64_t in = 784;
  for (std::size_t i = 0; i < spec.hidden.size(); ++i) {
    net->push_back(tg::nn::Linear(in, spec.hidden[i]));
    if (spec.batch_norm) net->push_back(tg::nn::BatchNorm1d(spec.hidden[i]));
    if (spec.activation == "relu")
      net->push_back(tg::nn::ReLU());
    else if (spec.activation == "tanh")
      net->push_back(tg::nn::Tanh());
    else
      net->push_back(tg::nn::Sigmoid());
    if (i < spec.dropout.size() && spec.dropout[i] > 0)
      net->push_back(tg::nn::Dropout(spec.dropout[i]));
    in = spec.hidden[i];
  }
  net->push_back(tg::nn::Linear(in, 10));
  return net;
}

class TapegradTrainer : public Trainer {
 public:
  explicit TapegradTrainer(const NetSpec& spec) : spec_(spec) {
    tg::manual_seed(0);
    net_ = build(spec);
    if (spec.optimizer == "adam")
      opt_ = std::make_unique<tg::optim::Adam>(net_->parameters(),
                                               tg::optim::AdamOptions{.lr = spec.lr});
    else
      opt_ = std::make_unique<tg::optim::SGD>(
          net_->parameters(), tg::optim::SGDOptions{.lr = spec.lr, .momentum = 0.9});
  }

  double train_epoch(const Data& data, const Order& order) override {
    const auto images = tg::from_blob(data.images.data(), {data.n, 784}, tg::kFloat32);
    const auto labels = tg::from_blob(data.labels.data(), {data.n}, tg::kInt64);
    const auto index = tg::from_vector(order);
    net_->train();
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t batches = data.n / spec_.batch;
    for (std::int64_t b = 0; b < batches; ++b) {
      const auto idx = index.narrow(0, b * spec_.batch, spec_.batch);
      const auto x = tg::index_select(images, 0, idx);
      const auto y = tg::index_select(labels, 0, idx);
      auto loss = tg::nn::functional::cross_entropy(net_->forward(x), y);
      opt_->zero_grad();
      loss.backward();
      opt_->step();
      if (b + 1 == batches) last_loss_ = loss.item<double>();
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double last_loss() const override { return last_loss_; }

 private:
  NetSpec spec_;
  std::shared_ptr<tg::nn::Sequential> net_;
  std::unique_ptr<tg::optim::Optimizer> opt_;
  double last_loss_ = 0;
};

}  // namespace

Data load_fashion_mnist(std::int64_t limit) {
  tg::datasets::FashionMNIST train(tg::datasets::Split::Train, {.limit = limit});
  Data d;
  d.n = train.size();
  d.images = train.inputs().contiguous().to_vector<float>();
  d.labels = train.targets().to_vector<std::int64_t>();
  return d;
}

std::unique_ptr<Trainer> make_tapegrad_trainer(const NetSpec& spec, int threads) {
  tg::set_num_threads(threads);
  return std::make_unique<TapegradTrainer>(spec);
}

void tapegrad_set_threads(int n) { tg::set_num_threads(n); }

double tapegrad_op_overhead_us() {
  auto x = tg::tensor({0.5f}).requires_grad_();
  double best = 1e30;
  for (int rep = 0; rep < 10; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (int it = 0; it < 200; ++it) {
      tg::Tensor y = x;
      for (int i = 0; i < 100; ++i) y = y * 1.001;
      y.sum().backward();
      x.zero_grad();
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, us / 200 / 100);
  }
  return best;
}

double tapegrad_elementwise_s(const std::string& op, std::int64_t n) {
  tg::manual_seed(0);
  const auto a = tg::rand({n}) * 4.0 - 2.0, b = tg::rand({n}) * 4.0 - 2.0;
  return median_seconds([&] {
    tg::Tensor r;
    if (op == "add")
      r = a + b;
    else if (op == "mul")
      r = a * b;
    else if (op == "relu")
      r = tg::relu(a);
    else if (op == "tanh")
      r = tg::tanh(a);
    else if (op == "exp")
      r = tg::exp(a);
    else
      r = tg::sigmoid(a);
  });
}
