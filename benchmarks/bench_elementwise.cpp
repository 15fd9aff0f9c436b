// Elementwise throughput in GB/s next to what the memory can do: add, mul, relu, tanh, exp and
// sigmoid on contiguous float32 tensors of 1K, 64K, 1M and 16M elements, each allocating its
// result (tg::add(a, b)) and, for the ops that have an in-place form (add_, mul_), writing into
// an existing tensor. BM_stream_triad (a[i] = b[i] + s * c[i] on std::vector<float>) is the
// bandwidth reference: a binary op can at best move its bytes as fast as the triad does.
// Each size runs on 1 thread and on all of them.
//
// Bytes counted per element follow STREAM: every float read plus every float written (4 bytes
// each); the write-allocate traffic of a cache miss is not counted.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <string>
#include <vector>

namespace {

using tg::Tensor;

const std::vector<std::int64_t> kSizes = {1 << 10, 1 << 16, 1 << 20, 1 << 24};

// 1 and every core (tg's default), once each.
std::vector<std::int64_t> thread_counts() {
  const std::int64_t all = tg::get_num_threads();
  return all > 1 ? std::vector<std::int64_t>{1, all} : std::vector<std::int64_t>{1};
}

// y = op(a, b) into a freshly allocated tensor: the allocation is part of what a caller pays.
using Op = Tensor (*)(const Tensor&, const Tensor&);  // unary ops ignore b
using InPlace = void (*)(Tensor&, const Tensor&);

void BM_alloc(benchmark::State& state, int inputs, Op op) {
  const std::int64_t n = state.range(0);
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::manual_seed(0);
  const Tensor a = tg::randn({n}), b = tg::randn({n});
  // Untimed first call: its freed result leaves a block of this size in the storage cache, so
  // the loop measures the steady state rather than first-touch page faults.
  benchmark::DoNotOptimize(op(a, b).raw_data());
  for (auto _ : state) {
    Tensor y = op(a, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * 4 * (inputs + 1));
}

// a.op_(b): reads a and b, writes a, no allocation. b is all ones so that repeated
// multiplication keeps a finite and normal (denormals or infs would change the speed); repeated
// addition only makes a grow.
void BM_inplace(benchmark::State& state, InPlace op) {
  const std::int64_t n = state.range(0);
  tg::set_num_threads(static_cast<int>(state.range(1)));
  tg::manual_seed(0);
  Tensor a = tg::randn({n});
  const Tensor b = tg::ones({n});
  for (auto _ : state) {
    op(a, b);
    benchmark::DoNotOptimize(a.raw_data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 4 * 3);
}

// STREAM triad on plain vectors. One thread: a bare loop. More: the library's parallel_for with
// the elementwise kernels' grain, so the reference splits work the way tapegrad's kernels do.
void BM_stream_triad(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const auto threads = static_cast<int>(state.range(1));
  tg::set_num_threads(threads);
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const float s = 3.0f;
  float* pa = a.data();
  const float* pb = b.data();
  const float* pc = c.data();
  const auto triad = [=](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) pa[i] = pb[i] + s * pc[i];
  };
  for (auto _ : state) {
    if (threads == 1)
      triad(0, n);
    else
      tg::detail::parallel_for(n, tg::detail::kElementwiseGrain, triad);
    benchmark::DoNotOptimize(pa);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 4 * 3);
}

void apply_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "threads"})->ArgsProduct({kSizes, thread_counts()})->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

void register_benchmarks() {
  struct Entry {
    const char* name;
    int inputs;
    Op op;
    InPlace inplace;  // null: the API has no in-place form (no relu_, tanh_, exp_, sigmoid_)
  };
  const Entry ops[] = {
      {"add", 2, [](const Tensor& a, const Tensor& b) { return tg::add(a, b); },
       [](Tensor& a, const Tensor& b) { a.add_(b); }},
      {"mul", 2, [](const Tensor& a, const Tensor& b) { return tg::mul(a, b); },
       [](Tensor& a, const Tensor& b) { a.mul_(b); }},
      {"relu", 1, [](const Tensor& a, const Tensor&) { return tg::relu(a); }, nullptr},
      {"tanh", 1, [](const Tensor& a, const Tensor&) { return tg::tanh(a); }, nullptr},
      {"exp", 1, [](const Tensor& a, const Tensor&) { return tg::exp(a); }, nullptr},
      {"sigmoid", 1, [](const Tensor& a, const Tensor&) { return tg::sigmoid(a); }, nullptr},
  };
  // Registered in this order, an op's two forms run and print next to each other.
  for (const Entry& e : ops) {
    const std::string name = std::string("BM_elementwise/") + e.name;
    apply_args(benchmark::RegisterBenchmark(
        (name + "/alloc").c_str(), [e](benchmark::State& s) { BM_alloc(s, e.inputs, e.op); }));
    if (e.inplace)
      apply_args(benchmark::RegisterBenchmark(
          (name + "/inplace").c_str(), [e](benchmark::State& s) { BM_inplace(s, e.inplace); }));
  }
  apply_args(benchmark::RegisterBenchmark("BM_stream_triad", BM_stream_triad));
}
