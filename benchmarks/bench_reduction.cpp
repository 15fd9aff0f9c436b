// Reductions and the row-wise ops of a classifier's head, float32, on 1 thread and on all:
// - sum, mean and max over all elements, over dim 0 and over dim 1 of [N, M] matrices. Dim 0
//   reduces across rows (strided), dim 1 along them (contiguous); [4096, 1000] and [1000, 4096]
//   hold the same data with the long side swapped;
// - logsumexp, softmax and log_softmax over the last dim of [128, 1000] and [4096, 1000];
// - cross_entropy forward + backward on [128, 10] (a seed net's batch) and [4096, 1000];
// - batch_norm in training mode, forward alone and forward + backward, on the hidden layers of
//   the 784-1024-512-10 seed net ([128, 1024] and [128, 512]).
// Bytes processed count the input read once plus any full-size output written, so GB/s can be
// set beside bench_elementwise's triad.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <string>
#include <vector>

namespace {

using tg::Tensor;
namespace F = tg::nn::functional;

struct Reduce {
  std::string name;
  Tensor (*all)(const Tensor&);
  Tensor (*dims)(const Tensor&, const tg::Shape&, bool);
};

// 1 and every core (tg's default), once each; read before any benchmark sets a count.
std::vector<std::int64_t> thread_counts() {
  const std::int64_t all = tg::get_num_threads();
  return all > 1 ? std::vector<std::int64_t>{1, all} : std::vector<std::int64_t>{1};
}

Tensor input(std::int64_t n, std::int64_t m) {
  tg::manual_seed(0);
  return tg::randn({n, m});
}

// dim < 0: over every element; else over that dim.
void BM_reduce(benchmark::State& state, const Reduce& op, int dim) {
  const std::int64_t n = state.range(0), m = state.range(1);
  tg::set_num_threads(static_cast<int>(state.range(2)));
  const Tensor x = input(n, m);
  const auto run = [&] { return dim < 0 ? op.all(x) : op.dims(x, {dim}, false); };
  // Untimed first call (here and below): later results reuse its freed storage, so the loop
  // measures the steady state, not first-touch page faults.
  benchmark::DoNotOptimize(run().raw_data());
  for (auto _ : state) {
    Tensor y = run();
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * m * 4);
}

// An op over the last dim of [N, M]: its result is [N], or [N, M] when full_output.
struct RowOp {
  const char* name;
  bool full_output;
  Tensor (*fn)(const Tensor&);
};

void BM_rows(benchmark::State& state, const RowOp& op) {
  const std::int64_t n = state.range(0), m = state.range(1);
  tg::set_num_threads(static_cast<int>(state.range(2)));
  const Tensor x = input(n, m);
  benchmark::DoNotOptimize(op.fn(x).raw_data());
  for (auto _ : state) {
    Tensor y = op.fn(x);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * m * 4 * (op.full_output ? 2 : 1));
}

// Loss and gradient of the logits: the fused log-softmax + NLL forward, then its backward.
void BM_cross_entropy_fwd_bwd(benchmark::State& state) {
  const std::int64_t n = state.range(0), c = state.range(1);
  tg::set_num_threads(static_cast<int>(state.range(2)));
  Tensor logits = input(n, c).requires_grad_();
  const Tensor target = tg::randint(0, c, {n});
  F::cross_entropy(logits, target).backward();
  logits.zero_grad();
  for (auto _ : state) {
    Tensor loss = F::cross_entropy(logits, target);
    loss.backward();
    benchmark::DoNotOptimize(logits.grad().raw_data());
    logits.zero_grad();
  }
  state.SetItemsProcessed(state.iterations() * n);              // items = samples
  state.SetBytesProcessed(state.iterations() * n * c * 4 * 2);  // logits read, gradient written
}

// Training-mode batch_norm with affine weight and bias. The gradient pass is the fused backward
// a training step runs (grad mode off inside backward).
void BM_batch_norm(benchmark::State& state, bool backward) {
  const std::int64_t n = state.range(0), c = state.range(1);
  tg::set_num_threads(static_cast<int>(state.range(2)));
  Tensor x = input(n, c).requires_grad_();
  Tensor w = tg::ones({c}).requires_grad_(), b = tg::zeros({c}).requires_grad_();
  Tensor running_mean = tg::zeros({c}), running_var = tg::ones({c});
  const Tensor g = tg::randn({n, c});
  const auto run = [&] {
    Tensor y = F::batch_norm(x, running_mean, running_var, w, b, true, 0.1, 1e-5);
    if (backward) {
      const auto gx = tg::grad({y}, {x, w, b}, {g});
      benchmark::DoNotOptimize(gx[0].raw_data());
    }
    benchmark::DoNotOptimize(y.raw_data());
  };
  run();
  for (auto _ : state) run();
  // x read (twice more for the statistics and backward, not counted) and y written.
  state.SetBytesProcessed(state.iterations() * n * c * 4 * (backward ? 4 : 2));
}

}  // namespace

void register_benchmarks() {
  const std::vector<std::int64_t> threads = thread_counts();
  const std::vector<std::vector<std::int64_t>> matrices = {{128, 1000}, {4096, 1000}, {1000, 4096}};
  const std::vector<std::vector<std::int64_t>> rows = {{128, 1000}, {4096, 1000}};
  const auto shaped = [&threads](benchmark::internal::Benchmark* b,
                                 const std::vector<std::vector<std::int64_t>>& shapes) {
    b->ArgNames({"N", "M", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
    for (const auto& s : shapes)
      for (std::int64_t t : threads) b->Args({s[0], s[1], t});
  };

  const std::vector<Reduce> reductions = {
      {"sum", &tg::sum, &tg::sum}, {"mean", &tg::mean, &tg::mean}, {"max", &tg::max, &tg::amax}};
  for (const auto& op : reductions)
    for (int dim : {-1, 0, 1}) {
      const std::string where = dim < 0 ? "all" : "dim" + std::to_string(dim);
      shaped(
          benchmark::RegisterBenchmark(("BM_reduce/" + op.name + "/" + where).c_str(),
                                       [op, dim](benchmark::State& s) { BM_reduce(s, op, dim); }),
          matrices);
    }

  const RowOp row_ops[] = {
      {"logsumexp", false, [](const Tensor& x) { return tg::logsumexp(x, {-1}); }},
      {"softmax", true, [](const Tensor& x) { return F::softmax(x, -1); }},
      {"log_softmax", true, [](const Tensor& x) { return F::log_softmax(x, -1); }},
  };
  for (const RowOp& op : row_ops)
    shaped(benchmark::RegisterBenchmark((std::string("BM_rows/") + op.name).c_str(),
                                        [op](benchmark::State& s) { BM_rows(s, op); }),
           rows);
  shaped(benchmark::RegisterBenchmark("BM_cross_entropy/fwd_bwd", BM_cross_entropy_fwd_bwd),
         {{128, 10}, {4096, 1000}});
  for (const bool backward : {false, true})
    shaped(benchmark::RegisterBenchmark(
               backward ? "BM_batch_norm/fwd_bwd" : "BM_batch_norm/fwd",
               [backward](benchmark::State& s) { BM_batch_norm(s, backward); }),
           {{128, 1024}, {128, 512}});
}
