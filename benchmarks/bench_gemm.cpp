// Every matrix product one training step of the four comparison nets makes, through tapegrad
// and through a bare cblas_sgemm on the same data, so the gap is tapegrad's own cost (result
// allocation, shape checks, how it splits the work over threads):
//   fwd    Y  = X W^T     [B, in] x [out, in]^T  (nn::functional::linear, no bias)
//   wgrad  dW = dY^T X    [B, out]^T x [B, in]   (linear's backward: matmul(g.t(), x))
//   dgrad  dX = dY W      [B, out] x [out, in]   (linear's backward: matmul(g, w); the first
//                                                  layer has none, its input needs no gradient)
// Nets: mlp1024 = 784-1024-512-10 at batch 128 (both the dropout and the batch-norm variant),
// mlp89 = 784-89-10 at batch 64, mlp30 = 784-30-10 at batch 100.
//
// Names end in /tapegrad or /cblas after the shape and thread count, so each pair runs and
// sorts next to each other; --benchmark_filter=/cblas picks one side.
//
// Threads: each pair runs at 1 thread and at all of them. The tapegrad side calls
// tg::set_num_threads(t) and leaves the rest to the library's own policy for BLAS threads; the
// cblas side also calls openblas_set_num_threads(t), so bare OpenBLAS gets t threads of its own
// whatever the library last set. The next tapegrad run's set_num_threads restores the library's
// policy.
#include <benchmark/benchmark.h>

#include <cblas.h>
#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <string>
#include <vector>

namespace {

using tg::Tensor;

enum class Kind { Fwd, WGrad, DGrad };

struct Gemm {
  std::string net, layer;  // e.g. mlp1024, fc2_wgrad
  Kind kind;
  int batch, in, out;
  // C[m, n] = op(A)[m, k] op(B)[k, n]
  int m() const { return kind == Kind::WGrad ? out : batch; }
  int n() const { return kind == Kind::Fwd ? out : in; }
  int k() const { return kind == Kind::Fwd ? in : kind == Kind::WGrad ? batch : out; }
};

std::vector<Gemm> step_gemms(const std::string& net, const std::vector<int>& widths, int batch) {
  std::vector<Gemm> g;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const std::string fc = "fc" + std::to_string(l + 1);
    const int in = widths[l], out = widths[l + 1];
    g.push_back({net, fc + "_fwd", Kind::Fwd, batch, in, out});
    g.push_back({net, fc + "_wgrad", Kind::WGrad, batch, in, out});
    if (l > 0) g.push_back({net, fc + "_dgrad", Kind::DGrad, batch, in, out});
  }
  return g;
}

// The operands of one layer: input X [B, in], weight W [out, in], output gradient dY [B, out].
struct Operands {
  Tensor x, w, dy;
  explicit Operands(const Gemm& g) {
    tg::manual_seed(0);
    x = tg::randn({g.batch, g.in});
    w = tg::randn({g.out, g.in});
    dy = tg::randn({g.batch, g.out});
  }
};

void report(benchmark::State& state, const Gemm& g) {
  const double flops = 2.0 * g.m() * g.n() * g.k();
  state.SetItemsProcessed(static_cast<std::int64_t>(flops) * state.iterations());  // FLOP/s
  state.counters["GFLOPS"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel("m=" + std::to_string(g.m()) + " n=" + std::to_string(g.n()) +
                 " k=" + std::to_string(g.k()));
}

void BM_tapegrad(benchmark::State& state, const Gemm& g, int threads) {
  tg::set_num_threads(threads);
  const Operands o(g);
  for (auto _ : state) {
    Tensor c;
    switch (g.kind) {
      case Kind::Fwd:
        c = tg::nn::functional::linear(o.x, o.w);
        break;
      case Kind::WGrad:
        c = tg::matmul(o.dy.t(), o.x);
        break;
      case Kind::DGrad:
        c = tg::matmul(o.dy, o.w);
        break;
    }
    benchmark::DoNotOptimize(c.raw_data());
  }
  report(state, g);
}

void BM_cblas(benchmark::State& state, const Gemm& g, int threads) {
  tg::set_num_threads(threads);
  openblas_set_num_threads(threads);
  const Operands o(g);
  const float* x = o.x.data_ptr<float>();
  const float* w = o.w.data_ptr<float>();
  const float* dy = o.dy.data_ptr<float>();
  std::vector<float> c(static_cast<std::size_t>(g.m()) * g.n());  // preallocated, reused
  for (auto _ : state) {
    switch (g.kind) {
      case Kind::Fwd:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.batch, g.out, g.in, 1.0f, x, g.in, w,
                    g.in, 0.0f, c.data(), g.out);
        break;
      case Kind::WGrad:
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.out, g.in, g.batch, 1.0f, dy, g.out,
                    x, g.in, 0.0f, c.data(), g.in);
        break;
      case Kind::DGrad:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.batch, g.in, g.out, 1.0f, dy,
                    g.out, w, g.in, 0.0f, c.data(), g.in);
        break;
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report(state, g);
}

}  // namespace

void register_benchmarks() {
  std::vector<Gemm> gemms = step_gemms("mlp1024", {784, 1024, 512, 10}, 128);
  for (const auto& net :
       {step_gemms("mlp89", {784, 89, 10}, 64), step_gemms("mlp30", {784, 30, 10}, 100)})
    gemms.insert(gemms.end(), net.begin(), net.end());

  std::vector<int> threads{1};
  if (tg::get_num_threads() > 1) threads.push_back(tg::get_num_threads());

  for (const Gemm& g : gemms)
    for (int t : threads) {
      const std::string base =
          "BM_gemm/" + g.net + "/" + g.layer + "/threads:" + std::to_string(t) + "/";
      benchmark::RegisterBenchmark((base + "tapegrad").c_str(),
                                   [g, t](benchmark::State& s) { BM_tapegrad(s, g, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark((base + "cblas").c_str(),
                                   [g, t](benchmark::State& s) { BM_cblas(s, g, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
}
