// The fixed cost of one recorded op, where the arithmetic is nothing: a chain of 100
// multiplications y = y * 1.001 starting from x, then y.sum().backward() and x.zero_grad().
// This is the loop compare_libtorch reports as tapegrad_op_overhead_us, here under Google
// Benchmark and split into its parts:
//   fwd_bwd  record the chain, run the backward pass (the comparison's number);
//   fwd      record the chain in grad mode and drop the graph unused (what building it costs);
//   nograd   the same chain under tg::NoGradGuard (the op itself without autograd).
// on a one-element x (as compare_libtorch uses) and on a [64] x. "us_per_op" is the time per
// iteration divided by the 100 ops of the chain. One thread: tensors this small never go
// parallel, and it keeps the numbers comparable across machines.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <ctime>
#include <string>
#include <utility>

namespace {

using tg::Tensor;

constexpr int kChain = 100;

enum class Mode { FwdBwd, Fwd, NoGrad };

// This thread's CPU time, the clock of Google Benchmark's CPU column: unlike wall time it does
// not grow when other processes share the cores.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Tensor chain(const Tensor& x) {
  Tensor y = x;
  for (int i = 0; i < kChain; ++i) y = y * 1.001;
  return y;
}

void BM_chain(benchmark::State& state, Mode mode) {
  tg::set_num_threads(1);
  const std::int64_t n = state.range(0);
  Tensor x = tg::full({n}, 0.5).requires_grad_();
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    switch (mode) {
      case Mode::FwdBwd: {
        chain(x).sum().backward();
        benchmark::DoNotOptimize(x.grad().raw_data());
        x.zero_grad();
        break;
      }
      case Mode::Fwd: {
        Tensor y = chain(x);  // the graph is freed when y goes out of scope
        benchmark::DoNotOptimize(y.raw_data());
        break;
      }
      case Mode::NoGrad: {
        tg::NoGradGuard no_grad;
        Tensor y = chain(x);
        benchmark::DoNotOptimize(y.raw_data());
        break;
      }
    }
  }
  // Computed here rather than as an inverted rate counter, which the console would print with
  // an "s" unit whatever the scale.
  state.counters["us_per_op"] =
      (thread_cpu_seconds() - start) * 1e6 / (static_cast<double>(state.iterations()) * kChain);
}

}  // namespace

void register_benchmarks() {
  for (const auto& [name, mode] :
       {std::pair{"fwd_bwd", Mode::FwdBwd}, {"fwd", Mode::Fwd}, {"nograd", Mode::NoGrad}})
    benchmark::RegisterBenchmark((std::string("BM_autograd_chain100/") + name).c_str(),
                                 [mode](benchmark::State& s) { BM_chain(s, mode); })
        ->ArgName("n")
        ->Arg(1)
        ->Arg(64)
        ->Unit(benchmark::kMicrosecond);
}
