// The sequence-model ops at the sizes of examples/char_lm's GPT (n_embd 128, 4 heads, context
// 32, 64 words a batch), float32, on 1 thread and on all:
// - layer_norm over the last dim of [B * T, 128], forward and forward + backward;
// - embedding backward: gradients of [B * T, 128] added into a [27, 128] table (many repeated
//   rows) and into a [4096, 128] one;
// - scaled_dot_product_attention [B, 4, T, 32], causal, forward and forward + backward.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <vector>

namespace {

using tg::Tensor;
namespace F = tg::nn::functional;

std::vector<std::int64_t> thread_counts() {
  const std::int64_t all = tg::get_num_threads();
  return all > 1 ? std::vector<std::int64_t>{1, all} : std::vector<std::int64_t>{1};
}

void BM_layer_norm(benchmark::State& state, bool backward) {
  const std::int64_t n = state.range(0), m = state.range(1);
  tg::set_num_threads(static_cast<int>(state.range(2)));
  tg::manual_seed(0);
  const Tensor x = tg::randn({n, m}).requires_grad_();
  const Tensor w = tg::ones({m}).requires_grad_(), b = tg::zeros({m}).requires_grad_();
  const Tensor g = tg::randn({n, m});
  const auto run = [&] {
    Tensor y = F::layer_norm(x, {m}, w, b);
    if (backward) benchmark::DoNotOptimize(tg::grad({y}, {x, w, b}, {g})[0].raw_data());
    benchmark::DoNotOptimize(y.raw_data());
  };
  run();
  for (auto _ : state) run();
  state.SetBytesProcessed(state.iterations() * n * m * 4 * (backward ? 4 : 2));
}

void BM_embedding_backward(benchmark::State& state) {
  const std::int64_t tokens = state.range(0), rows = state.range(1), dim = 128;
  tg::set_num_threads(static_cast<int>(state.range(2)));
  tg::manual_seed(0);
  const Tensor w = tg::randn({rows, dim}).requires_grad_();
  const Tensor idx = tg::randint(0, rows, {tokens});
  const Tensor g = tg::randn({tokens, dim});
  const Tensor y = F::embedding(w, idx);
  for (auto _ : state) benchmark::DoNotOptimize(tg::grad({y}, {w}, {g}, true)[0].raw_data());
  state.SetBytesProcessed(state.iterations() * tokens * dim * 4);
}

void BM_attention(benchmark::State& state, bool backward) {
  const std::int64_t B = state.range(0), T = state.range(1), H = 4, D = 32;
  tg::set_num_threads(static_cast<int>(state.range(2)));
  tg::manual_seed(0);
  const Tensor q = tg::randn({B, H, T, D}).requires_grad_();
  const Tensor k = tg::randn({B, H, T, D}).requires_grad_();
  const Tensor v = tg::randn({B, H, T, D}).requires_grad_();
  const Tensor g = tg::randn({B, H, T, D});
  const auto run = [&] {
    Tensor y = F::scaled_dot_product_attention(q, k, v, {.is_causal = true});
    if (backward) benchmark::DoNotOptimize(tg::grad({y}, {q, k, v}, {g})[0].raw_data());
    benchmark::DoNotOptimize(y.raw_data());
  };
  run();
  for (auto _ : state) run();
}

}  // namespace

void register_benchmarks() {
  const std::vector<std::int64_t> threads = thread_counts();
  for (bool backward : {false, true}) {
    auto* b = benchmark::RegisterBenchmark(
        backward ? "BM_layer_norm/fwd_bwd" : "BM_layer_norm/fwd",
        [backward](benchmark::State& s) { BM_layer_norm(s, backward); });
    b->ArgNames({"N", "M", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
    for (std::int64_t t : threads) b->Args({64 * 32, 128, t});
  }
  auto* e = benchmark::RegisterBenchmark("BM_embedding_backward", BM_embedding_backward);
  e->ArgNames({"tokens", "rows", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (std::int64_t rows : {27, 4096})
    for (std::int64_t t : threads) e->Args({64 * 32, rows, t});
  for (bool backward : {false, true}) {
    auto* b = benchmark::RegisterBenchmark(
        backward ? "BM_attention_causal/fwd_bwd" : "BM_attention_causal/fwd",
        [backward](benchmark::State& s) { BM_attention(s, backward); });
    b->ArgNames({"B", "T", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
    for (std::int64_t t : threads) b->Args({64, 32, t});
  }
}
