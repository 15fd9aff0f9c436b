// One whole training step of each of compare_libtorch's four networks: forward, cross_entropy,
// zero_grad, backward and the optimizer step, on random images at the net's batch size. The
// specs repeat compare_libtorch/nets.cpp (that directory builds only with LibTorch, so it is
// not included from here):
//   mlp1024_dropout_adam    784-1024-512-10 relu, dropout 0.4 / 0.25, Adam 1e-3, batch 128
//   mlp1024_bn_adam         the same with BatchNorm1d after each hidden Linear
//   mlp89_tanh_momentum     784-89-10 tanh, SGD momentum 0.9 lr 0.05, batch 64
//   mlp30_sigmoid_momentum  784-30-10 sigmoid, SGD momentum 0.9 lr 0.1, batch 100
// Counters: samples per second (items), the step's GEMM work as gemm_GFLOPS (set against
// bench_gemm's per-product numbers, it shows how much of the step is not GEMM), the parameter
// count, and last_loss (the last step's loss, a sanity value: it falls as the net memorizes the
// 8 random batches it cycles through). Each net runs on 1 thread and on all of them.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <memory>
#include <string>
#include <vector>

namespace {

using tg::Tensor;

struct NetSpec {
  std::string name;
  std::vector<std::int64_t> hidden;
  std::string activation;  // relu, tanh, sigmoid
  bool batch_norm = false;
  std::vector<double> dropout;  // per hidden layer, probability of dropping
  bool adam = false;            // else SGD with momentum 0.9
  double lr = 0.0;
  std::int64_t batch = 0;
};

const std::vector<NetSpec>& nets() {
  static const std::vector<NetSpec> specs = {
      {"mlp1024_dropout_adam", {1024, 512}, "relu", false, {0.4, 0.25}, true, 1e-3, 128},
      {"mlp1024_bn_adam", {1024, 512}, "relu", true, {0.4, 0.25}, true, 1e-3, 128},
      {"mlp89_tanh_momentum", {89}, "tanh", false, {}, false, 0.05, 64},
      {"mlp30_sigmoid_momentum", {30}, "sigmoid", false, {}, false, 0.1, 100},
  };
  return specs;
}

// Linear [-> BatchNorm1d] -> activation [-> Dropout] per hidden layer, then Linear(.., 10).
std::shared_ptr<tg::nn::Sequential> build(const NetSpec& spec) {
  auto net = std::make_shared<tg::nn::Sequential>();
  std::int64_t in = 784;
  for (std::size_t i = 0; i < spec.hidden.size(); ++i) {
    const std::int64_t out = spec.hidden[i];
    net->push_back(tg::nn::Linear(in, out));
    if (spec.batch_norm) net->push_back(tg::nn::BatchNorm1d(out));
    if (spec.activation == "relu")
      net->push_back(tg::nn::ReLU());
    else if (spec.activation == "tanh")
      net->push_back(tg::nn::Tanh());
    else
      net->push_back(tg::nn::Sigmoid());
    if (i < spec.dropout.size() && spec.dropout[i] > 0)
      net->push_back(tg::nn::Dropout(spec.dropout[i]));
    in = out;
  }
  net->push_back(tg::nn::Linear(in, 10));
  return net;
}

// Multiply-adds x2 of the step's GEMMs: forward and weight gradient of every layer, input
// gradient of all but the first (the images need none).
double gemm_flops(const NetSpec& spec) {
  std::vector<std::int64_t> widths{784};
  widths.insert(widths.end(), spec.hidden.begin(), spec.hidden.end());
  widths.push_back(10);
  double flops = 0;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l)
    flops += 2.0 * static_cast<double>(spec.batch * widths[l] * widths[l + 1]) * (l == 0 ? 2 : 3);
  return flops;
}

void BM_train_step(benchmark::State& state, const NetSpec& spec) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::manual_seed(0);
  auto net = build(spec);
  net->train();
  std::unique_ptr<tg::optim::Optimizer> opt;
  if (spec.adam)
    opt =
        std::make_unique<tg::optim::Adam>(net->parameters(), tg::optim::AdamOptions{.lr = spec.lr});
  else
    opt = std::make_unique<tg::optim::SGD>(net->parameters(),
                                           tg::optim::SGDOptions{.lr = spec.lr, .momentum = 0.9});
  // A few distinct batches in turn, images in [0, 1) like normalized pixels.
  constexpr int kBatches = 8;
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < kBatches; ++i) {
    xs.push_back(tg::rand({spec.batch, 784}));
    ys.push_back(tg::randint(0, 10, {spec.batch}));
  }
  int b = 0;
  double loss = 0;
  const auto step = [&] {
    Tensor l = tg::nn::functional::cross_entropy(net->forward(xs[b]), ys[b]);
    opt->zero_grad();
    l.backward();
    opt->step();
    b = (b + 1) % kBatches;
    loss = l.item<double>();  // a sanity value; nanoseconds against a step of many microseconds
  };
  step();  // untimed: creates the optimizer state and fills the storage cache
  for (auto _ : state) step();
  state.SetItemsProcessed(state.iterations() * spec.batch);  // items = samples
  state.counters["gemm_GFLOPS"] =
      benchmark::Counter(gemm_flops(spec) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
  state.counters["params"] = static_cast<double>(net->num_parameters());
  state.counters["last_loss"] = loss;
}

}  // namespace

void register_benchmarks() {
  std::vector<std::int64_t> threads{1};
  if (tg::get_num_threads() > 1) threads.push_back(tg::get_num_threads());
  for (const NetSpec& spec : nets())
    benchmark::RegisterBenchmark(("BM_train_step/" + spec.name).c_str(),
                                 [&spec](benchmark::State& s) { BM_train_step(s, spec); })
        ->ArgName("threads")
        ->ArgsProduct({threads})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
}
