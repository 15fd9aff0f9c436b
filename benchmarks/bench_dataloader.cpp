// How long the data pipeline takes per batch, next to the training step it feeds: assembling a
// shuffled batch of 128 from Fashion-MNIST-sized data (60000 x 784 float32), a whole loader
// epoch, per-batch augmentation, and one forward + backward of the 784-1024-512-10 flagship MLP.
// Loading should be a small fraction of the step. Each runs on 1 and on 2 threads.
#include <benchmark/benchmark.h>

#include "common/bench_main.h"

#include <tapegrad/tapegrad.h>
#include <numeric>

using namespace tg;

namespace {

constexpr std::int64_t kSamples = 60000, kFeatures = 784, kBatch = 128;

const data::TensorDataset& dataset() {
  static const data::TensorDataset ds = [] {
    manual_seed(0);
    return data::TensorDataset(rand({kSamples, kFeatures}), randint(0, 10, {kSamples}));
  }();
  return ds;
}

std::vector<std::int64_t> permutation(std::uint64_t seed) {
  std::vector<std::int64_t> p(kSamples);
  std::iota(p.begin(), p.end(), 0);
  Generator gen(seed);
  for (std::int64_t i = kSamples - 1; i > 0; --i) std::swap(p[i], p[gen.randint(0, i + 1)]);
  return p;
}

Tensor batch_of(std::uint64_t seed) {
  const auto perm = permutation(seed);
  return data::gather_rows(dataset().inputs(), std::span(perm).first(kBatch));
}

// One batch: the shuffled rows gathered into a fresh [128, 784] tensor, plus its labels.
void BM_GatherBatch128(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  const auto& ds = dataset();
  const auto perm = permutation(1);
  std::int64_t start = 0;
  for (auto _ : state) {
    const std::span<const std::int64_t> rows(perm.data() + start, kBatch);
    Tensor x = data::gather_rows(ds.inputs(), rows);
    Tensor y = data::gather_rows(ds.targets(), rows);
    benchmark::DoNotOptimize(x.raw_data());
    benchmark::DoNotOptimize(y.raw_data());
    start = (start + kBatch) % (kSamples - kBatch);
  }
  state.SetBytesProcessed(state.iterations() * kBatch * kFeatures * 4);
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_GatherBatch128)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

// A whole shuffled epoch through the DataLoader (469 batches), reported per batch.
void BM_LoaderEpoch(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  data::DataLoader loader(
      dataset(), {.batch_size = kBatch, .shuffle = true, .seed = 1, .progress = ProgressMode::Off});
  std::int64_t batches = 0;
  for (auto _ : state)
    for (auto& [x, y] : loader) {
      benchmark::DoNotOptimize(x.raw_data());
      ++batches;
    }
  state.SetItemsProcessed(batches);  // items = batches: items_per_second is batches per second
  state.SetLabel("469 batches of 128 per epoch");
}
BENCHMARK(BM_LoaderEpoch)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// Random rotation (+-10 degrees, bilinear) and shift (+-2 px) of one batch.
void BM_AugmentBatch128(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  const Tensor x = batch_of(2);
  Generator gen(3);
  const datasets::AugmentOptions opts{.max_degrees = 10, .max_shift = 2};
  for (auto _ : state) benchmark::DoNotOptimize(datasets::augment(x, opts, gen).raw_data());
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_AugmentBatch128)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

// What the batch feeds: forward + backward of a 784-1024-512-10 ReLU MLP on 128 samples.
void BM_TrainStepMLP(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  manual_seed(4);
  auto param = [](std::int64_t in, std::int64_t out) {
    return (randn({in, out}) * (1.0 / std::sqrt(double(in)))).detach().requires_grad_();
  };
  Tensor w1 = param(784, 1024), w2 = param(1024, 512), w3 = param(512, 10);
  const Tensor x = batch_of(5);
  const Tensor target = zeros({kBatch, 10});
  for (auto _ : state) {
    Tensor out = relu(relu(x.matmul(w1)).matmul(w2)).matmul(w3);
    Tensor loss = (out - target).pow(2.0).mean();
    loss.backward();
    w1.zero_grad(), w2.zero_grad(), w3.zero_grad();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_TrainStepMLP)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

}  // namespace

void register_benchmarks() {}  // the BENCHMARK() macros above register at static init
