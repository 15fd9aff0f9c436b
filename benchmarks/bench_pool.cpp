// Pooling and batch norm at the CNN example's shapes (float32, batch 128): max_pool2d 2x2 on
// [128, 32, 28, 28] and [128, 64, 14, 14], avg_pool2d 3x3 / stride 2 / pad 1 and global
// adaptive_avg_pool2d on [128, 64, 14, 14], batch_norm on [128, 32, 28, 28]; forward alone and
// forward + backward, on 1 thread and on all. Bytes count the input read once and the output
// written once.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <functional>
#include <string>
#include <vector>

namespace {

using tg::Tensor;
namespace F = tg::nn::functional;

std::vector<std::int64_t> thread_counts() {
  const std::int64_t all = tg::get_num_threads();
  return all > 1 ? std::vector<std::int64_t>{1, all} : std::vector<std::int64_t>{1};
}

void run(benchmark::State& state, const tg::Shape& shape, const std::function<Tensor(Tensor)>& op,
         bool backward) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::manual_seed(0);
  Tensor x = tg::randn(shape);
  if (backward) x.requires_grad_();
  std::int64_t out_numel = 0;
  for (auto _ : state) {
    Tensor y = op(x);
    if (backward) {
      y.backward(tg::ones_like(y));
      x.zero_grad();
    }
    out_numel = y.numel();
    benchmark::DoNotOptimize(y);
  }
  state.SetBytesProcessed(state.iterations() * (x.numel() + out_numel) * 4);
}

}  // namespace

void register_benchmarks() {
  struct Case {
    std::string name;
    tg::Shape shape;
    std::function<Tensor(Tensor)> op;
  };
  const std::vector<Case> cases{
      {"max_pool2d_2x2/128x32x28x28",
       {128, 32, 28, 28},
       [](Tensor x) { return F::max_pool2d(x, 2); }},
      {"max_pool2d_2x2/128x64x14x14",
       {128, 64, 14, 14},
       [](Tensor x) { return F::max_pool2d(x, 2); }},
      {"avg_pool2d_3x3s2p1/128x64x14x14",
       {128, 64, 14, 14},
       [](Tensor x) { return F::avg_pool2d(x, 3, 2, 1); }},
      {"adaptive_avg_pool2d_1/128x64x14x14",
       {128, 64, 14, 14},
       [](Tensor x) { return F::adaptive_avg_pool2d(x, 1); }},
      {"batch_norm_train/128x32x28x28",
       {128, 32, 28, 28},
       [](Tensor x) { return F::batch_norm(x, {}, {}, {}, {}, true); }},
  };
  for (const auto& c : cases)
    for (const bool backward : {false, true}) {
      auto* b = benchmark::RegisterBenchmark(
          (std::string(backward ? "fwd_bwd/" : "fwd/") + c.name).c_str(),
          [c, backward](benchmark::State& s) { run(s, c.shape, c.op, backward); });
      for (auto t : thread_counts()) b->Arg(t);
      b->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
}
