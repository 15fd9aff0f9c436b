// The LibTorch side: the same networks written with torch::nn, trained in the same batch order.
#include <torch/torch.h>

#include <chrono>

#include "timing.h"
#include "torch_side.h"

namespace {

struct TorchNet : torch::nn::Module {
  explicit TorchNet(const NetSpec& s) : spec(s) {
    if (s.cnn) {
      namespace tnn = torch::nn;
      conv1 = register_module("conv1",
                              tnn::Conv2d(tnn::Conv2dOptions(1, 32, 3).padding(1).bias(false)));
      cbn1 = register_module("bn1", tnn::BatchNorm2d(32));
      conv2 = register_module("conv2",
                              tnn::Conv2d(tnn::Conv2dOptions(32, 64, 3).padding(1).bias(false)));
      cbn2 = register_module("bn2", tnn::BatchNorm2d(64));
      linears.push_back(register_module("fc0", tnn::Linear(3136, 128)));
      out = register_module("out", tnn::Linear(128, 10));
      return;
    }
    int in = 784;
    for (std::size_t i = 0; i < s.hidden.size(); ++i) {
      linears.push_back(
          register_module("fc" + std::to_string(i), torch::nn::Linear(in, s.hidden[i])));
      if (s.batch_norm)
        norms.push_back(
            register_module("bn" + std::to_string(i), torch::nn::BatchNorm1d(s.hidden[i])));
      in = s.hidden[i];
    }
    out = register_module("out", torch::nn::Linear(in, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    if (spec.cnn) {
      x = x.reshape({-1, 1, 28, 28});
      x = torch::max_pool2d(torch::relu(cbn1->forward(conv1->forward(x))), 2);
      x = torch::max_pool2d(torch::relu(cbn2->forward(conv2->forward(x))), 2);
      x = torch::relu(linears[0]->forward(x.flatten(1)));
      return out->forward(torch::dropout(x, spec.dropout.at(0), is_training()));
    }
    for (std::size_t i = 0; i < linears.size(); ++i) {
      x = linears[i]->forward(x);
      if (spec.batch_norm) x = norms[i]->forward(x);
      if (spec.activation == "relu")
        x = torch::relu(x);
      else if (spec.activation == "tanh")
        x = torch::tanh(x);
      else
        x = torch::sigmoid(x);
      if (i < spec.dropout.size() && spec.dropout[i] > 0)
        x = torch::dropout(x, spec.dropout[i], is_training());
    }
    return out->forward(x);
  }
  NetSpec spec;
  std::vector<torch::nn::Linear> linears;
  std::vector<torch::nn::BatchNorm1d> norms;
  torch::nn::Linear out{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d cbn1{nullptr}, cbn2{nullptr};
};

class TorchTrainer : public Trainer {
 public:
  explicit TorchTrainer(const NetSpec& spec) : spec_(spec) {
    torch::manual_seed(0);
    net_ = std::make_shared<TorchNet>(spec);
    if (spec.optimizer == "adam")
      opt_ = std::make_unique<torch::optim::Adam>(net_->parameters(),
                                                  torch::optim::AdamOptions(spec.lr));
    else
      opt_ = std::make_unique<torch::optim::SGD>(net_->parameters(),
                                                 torch::optim::SGDOptions(spec.lr).momentum(0.9));
  }

  double train_epoch(const Data& data, const Order& order) override {
    const auto images = torch::from_blob(const_cast<float*>(data.images.data()), {data.n, 784});
    const auto labels =
        torch::from_blob(const_cast<std::int64_t*>(data.labels.data()), {data.n}, torch::kInt64);
    const auto index = torch::from_blob(const_cast<std::int64_t*>(order.data()),
                                        {static_cast<std::int64_t>(order.size())}, torch::kInt64);
    net_->train();
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t batches = data.n / spec_.batch;
    for (std::int64_t b = 0; b < batches; ++b) {
      const auto idx = index.narrow(0, b * spec_.batch, spec_.batch);
      const auto x = images.index_select(0, idx);
      const auto y = labels.index_select(0, idx);
      auto loss = torch::nn::functional::cross_entropy(net_->forward(x), y);
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
  std::shared_ptr<TorchNet> net_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  double last_loss_ = 0;
};

}  // namespace

std::unique_ptr<Trainer> make_torch_trainer(const NetSpec& spec) {
  return std::make_unique<TorchTrainer>(spec);
}

void torch_set_threads(int n) { torch::set_num_threads(n); }

double torch_op_overhead_us() {
  auto x = torch::full({1}, 0.5, torch::requires_grad());
  double best = 1e30;
  for (int rep = 0; rep < 10; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (int it = 0; it < 200; ++it) {
      auto y = x;
      for (int i = 0; i < 100; ++i) y = y * 1.001;
      y.sum().backward();
      x.mutable_grad().reset();
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, us / 200 / 100);
  }
  return best;
}

double torch_elementwise_s(const std::string& op, std::int64_t n, bool into_buffer) {
  torch::manual_seed(0);
  const auto a = torch::rand({n}) * 4 - 2, b = torch::rand({n}) * 4 - 2;
  auto out = torch::empty({n});
  torch::NoGradGuard no_grad;
  return median_seconds([&] {
    if (into_buffer) {
      if (op == "add")
        torch::add_out(out, a, b);
      else if (op == "mul")
        torch::mul_out(out, a, b);
      else if (op == "relu")
        torch::clamp_min_out(out, a, 0);  // relu has no _out form
      else if (op == "tanh")
        torch::tanh_out(out, a);
      else if (op == "exp")
        torch::exp_out(out, a);
      else
        torch::sigmoid_out(out, a);
      return;
    }
    torch::Tensor r;
    if (op == "add")
      r = a + b;
    else if (op == "mul")
      r = a * b;
    else if (op == "relu")
      r = torch::relu(a);
    else if (op == "tanh")
      r = torch::tanh(a);
    else if (op == "exp")
      r = torch::exp(a);
    else
      r = torch::sigmoid(a);
  });
}
