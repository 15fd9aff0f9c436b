// Recurrent layers and selection: a 2-layer nn::LSTM forward + backward over a sequence at the
// char_lm sizes (T 32, batch 64, input 64, hidden 256), the fused LSTM gate op alone
// (forward + backward of one step, [64, 4*256]), and topk over logits rows.
// Counters: time steps per second (items) for the layer, elements per second for the gates.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>

namespace {

using tg::Tensor;

void BM_lstm_layer_step(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  const std::int64_t T = 32, B = 64, I = 64, H = 256;
  tg::manual_seed(1);
  tg::nn::LSTM lstm(I, H, {.num_layers = 2});
  const Tensor x = tg::randn({T, B, I}).requires_grad_();
  for (auto _ : state) {
    auto out = lstm(x);
    tg::sum(out).backward();
    benchmark::DoNotOptimize(x.grad());
  }
  state.SetItemsProcessed(state.iterations() * T);
}

void BM_lstm_gates(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  const std::int64_t B = 64, H = 256;
  const Tensor gates = tg::randn({B, 4 * H}).requires_grad_();
  const Tensor c = tg::randn({B, H}).requires_grad_();
  for (auto _ : state) {
    auto s = tg::lstm_gates(gates, c);
    tg::backward({s.h, s.c}, {tg::ones({B, H}), tg::ones({B, H})});
    benchmark::DoNotOptimize(gates.grad());
  }
  state.SetItemsProcessed(state.iterations() * B * H);
}

void BM_topk(benchmark::State& state) {
  const Tensor logits = tg::randn({256, 1000});
  for (auto _ : state) benchmark::DoNotOptimize(tg::topk(logits, 5, 1).values);
  state.SetItemsProcessed(state.iterations() * logits.numel());
}

}  // namespace

void register_benchmarks() {
  std::vector<std::int64_t> threads{1};
  if (tg::get_num_threads() > 1) threads.push_back(tg::get_num_threads());
  benchmark::RegisterBenchmark("BM_lstm_layer_step", BM_lstm_layer_step)
      ->ArgName("threads")
      ->ArgsProduct({threads})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_lstm_gates", BM_lstm_gates)
      ->ArgName("threads")
      ->ArgsProduct({threads})
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_topk", BM_topk)->UseRealTime()->Unit(benchmark::kMicrosecond);
}
