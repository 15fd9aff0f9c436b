// conv2d forward and forward+backward at the CNN example's shapes and at a larger layer:
//   cnn_conv1  batch 128, 1 -> 32, 3x3 pad 1 on 28x28 (input needs no gradient, as in training)
//   cnn_conv2  batch 128, 32 -> 64, 3x3 pad 1 on 14x14
//   big        batch 32, 64 -> 64, 3x3 pad 1 on 56x56
// fwd runs under no_grad; fwdbwd records the graph and runs backward with a gradient of ones
// (weight, bias and, except for cnn_conv1, input gradients). Each at 1 thread and at all cores.
// LibTorch's figures for the same shapes: benchmarks/torch_conv.py (see README, Performance).
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <string>
#include <thread>

namespace {

namespace F = tg::nn::functional;

struct Shape4 {
  const char* name;
  std::int64_t batch, in, out, size;
  bool input_grad;
};

constexpr Shape4 kShapes[] = {
    {"cnn_conv1", 128, 1, 32, 28, false},
    {"cnn_conv2", 128, 32, 64, 14, true},
    {"big", 32, 64, 64, 56, true},
};

void run(benchmark::State& state, const Shape4& s, bool backward, int threads) {
  tg::set_num_threads(threads);
  tg::manual_seed(1);
  tg::Tensor x = tg::randn({s.batch, s.in, s.size, s.size});
  tg::Tensor w = tg::randn({s.out, s.in, 3, 3}).mul_(0.1);
  tg::Tensor b = tg::randn({s.out});
  if (backward) {
    w.requires_grad_();
    b.requires_grad_();
    if (s.input_grad) x.requires_grad_();
  }
  tg::Tensor ones = tg::ones({s.batch, s.out, s.size, s.size});
  for (auto _ : state) {
    if (backward) {
      tg::Tensor y = F::conv2d(x, w, b, 1, 1);
      y.backward(ones);
      benchmark::DoNotOptimize(w.grad().data_ptr<float>());
      w.zero_grad();
      b.zero_grad();
      x.zero_grad();
    } else {
      tg::NoGradGuard guard;
      tg::Tensor y = F::conv2d(x, w, b, 1, 1);
      benchmark::DoNotOptimize(y.data_ptr<float>());
    }
  }
  const double macs = static_cast<double>(s.batch * s.out * s.in * 9 * s.size * s.size);
  const double passes = backward ? (s.input_grad ? 3.0 : 2.0) : 1.0;
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * macs * passes * state.iterations(), benchmark::Counter::kIsRate);
}

}  // namespace

void register_benchmarks() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const auto& s : kShapes)
    for (bool backward : {false, true})
      for (int threads : {1, cores}) {
        const std::string name = std::string("conv2d/") + s.name + (backward ? "/fwdbwd" : "/fwd") +
                                 "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(
            name.c_str(),
            [s, backward, threads](benchmark::State& st) { run(st, s, backward, threads); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        if (cores == 1) break;
      }
}
