#pragma once
// What every example program shares, so that each main.cpp shows only what a user would copy:
// the network, the optimizer and the training step. This harness takes the rest: command-line
// options, loading (Fashion-)MNIST, the progress bar, the per-epoch metrics table, evaluation
// in eval() mode under no_grad, the CSV log and the PNG plot, and the last line
// `test_accuracy=0.XXXX`.
//
//   examples::Options opts{.epochs = 10, .batch_size = 128, .lr = 1e-3};  // this example's
//   defaults CLI::App app{"what the example does"}; examples::add_common_options(app, opts);
//   CLI11_PARSE(app, argc, argv);
//   examples::setup(opts);
//   auto data = examples::load_data(opts, {.standardize = true});
//   Net net;  ...
//   examples::Run run(opts, net, "name", loss_fn, data);
//   auto opt = run.make_optimizer([](std::vector<Tensor> ps) { return make_unique<Adam>(...); });
//   auto loader = run.train_loader(data.train);
//   for (std::int64_t epoch = 1; epoch <= opts.epochs; ++epoch) {
//     net.train();
//     for (auto& [x, y] : loader) { ...step...; run.record(loader, loss, logits, y); }
//     run.end_epoch(epoch, opt->lr());
//   }
//   return run.finish();
//
// Under `mpirun -np N` (when tapegrad was built with MPI) the same program trains data-parallel:
// each rank takes a shard of every epoch (DistributedSampler) with batch_size / N samples per
// step, gradients are averaged over ranks during backward (DistributedDataParallel attached to
// the model), the table shows global loss and accuracy, and only rank 0 prints and writes files.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace examples {

// The options every example takes. Each example sets its own defaults before registering them.
struct Options {
  std::int64_t epochs = 10;
  std::int64_t batch_size = 128;
  double lr = 1e-3;
  std::uint64_t seed = 42;
  int threads = 0;                  // 0: the library's default (every core)
  std::string dataset = "fashion";  // "fashion" or "mnist"
  std::string data_dir = {};        // empty: Fashion-MNIST's Debian package directory
  std::string plot = {};            // PNG of the curves; empty: none
  std::string csv = {};             // per-epoch metrics; empty: none
  std::int64_t limit_train = -1;    // first N samples only; -1: all
  std::int64_t limit_test = -1;
  bool zero = true;  // under mpirun: shard the optimizer over ranks (Run::make_optimizer)
};

// Option checks with short messages ("--lr: must be positive, got 0").
CLI::Validator positive();
CLI::Validator non_negative();
CLI::Validator probability();  // in [0, 1)

// Registers --epochs --batch-size --lr --seed --threads --data-dir --dataset --plot --csv
// --limit-train --limit-test --no-zero on `app`, showing `opts`' values as the defaults.
void add_common_options(CLI::App& app, Options& opts);

// Seeds the global generator, sets the thread count, makes uncaught errors print one clean
// line, and prints the run's settings.
void setup(const Options& opts);

struct Data {
  tg::data::TensorDataset train, test;
  std::vector<std::string_view> classes;  // class names, for the per-class report
};
// Loads the chosen dataset's train and test splits as flat float32 rows [N, 784] with int64
// labels, scaled to [0, 1] (and standardized when asked), honouring --limit-train/--limit-test.
// MNIST needs --data-dir; Fashion-MNIST reads /usr/share/datasets/fashion-mnist by default.
Data load_data(const Options& opts, tg::datasets::MNISTOptions base = {});

// Splits the last `size` samples off a training set as a validation set: {train, val}.
std::pair<tg::data::TensorDataset, tg::data::TensorDataset> split_validation(
    const tg::data::TensorDataset& train, std::int64_t size);

// The per-epoch bookkeeping of one training run.
class Run {
 public:
  // Loss used when evaluating: (model output, int64 class labels) -> scalar loss.
  using LossFn = std::function<tg::Tensor(const tg::Tensor&, const tg::Tensor&)>;

  // `name` labels the plot and the summary. The model is evaluated through model(x), each epoch
  // on data.test unless set_validation() names another set.
  Run(const Options& opts, tg::nn::Module& model, std::string name, LossFn loss_fn,
      const Data& data);

  // A shuffled loader over `train` with --batch-size, a seed drawn from --seed and a progress
  // bar (a bar on a terminal, a line per 10% in logs). `progress` false: no bar (full batch).
  tg::data::DataLoader train_loader(const tg::data::TensorDataset& train, bool progress = true);

  // The example's optimizer: `make` over the model's parameters in one process. Under mpirun
  // (unless --no-zero) a ZeroRedundancyOptimizer whose inner optimizer `make` builds over this
  // rank's shard of the parameters: each rank keeps state for, and steps, 1/N of them, with the
  // same weights after every step as one whole optimizer per rank. The .grad it leaves are each
  // rank's own, so an example that reads them (clipping) makes its optimizer itself.
  using MakeOptimizer =
      std::function<std::unique_ptr<tg::optim::Optimizer>(std::vector<tg::Tensor>)>;
  std::unique_ptr<tg::optim::Optimizer> make_optimizer(const MakeOptimizer& make);

  // Evaluate each epoch on this set (named "val") instead of the test set.
  void set_validation(tg::data::TensorDataset val);

  // Accounts one training batch: the loss feeds the bar's running mean and the epoch's train
  // loss; the logits' argmax against `targets` the epoch's train accuracy.
  void record(tg::data::DataLoader& loader, const tg::Tensor& loss, const tg::Tensor& logits,
              const tg::Tensor& targets);

  // The model's loss and accuracy on `set`, in eval() mode under no_grad (the mode it was in is
  // restored after). Under mpirun each rank evaluates a share of the batches with rank 0's
  // batch-norm statistics; the figures are the same bits as one process's.
  tg::metrics::Evaluation evaluate(const tg::data::TensorDataset& set);

  // Ends an epoch: evaluates on the validation set (or the test set), logs train/eval loss and
  // accuracy, `lr`, the epoch's seconds and `extra` columns, and prints the row when `print`.
  // Returns the evaluation.
  tg::metrics::Evaluation end_epoch(std::int64_t epoch, double lr,
                                    const tg::TrainingLog::Metrics& extra = {}, bool print = true);

  // Prints a line above the table's next row (e.g. an early-stopping decision).
  void note(const std::string& text);

  // Evaluates on the test set, prints per-class accuracy, writes --csv and --plot, and prints
  // `test_accuracy=0.XXXX` as the very last line. Returns the process exit code.
  int finish();

  const tg::TrainingLog& log() const { return log_; }
  double elapsed_seconds() const;

 private:
  using Clock = std::chrono::steady_clock;
  Options opts_;
  tg::nn::Module& model_;
  std::string name_;
  LossFn loss_fn_;
  const Data& data_;
  std::optional<tg::data::TensorDataset> val_;
  tg::TrainingLog log_;
  Clock::time_point start_, epoch_start_;
  double loss_sum_ = 0.0;
  std::int64_t loss_samples_ = 0, correct_ = 0;
  // Data-parallel state under mpirun (null otherwise).
  std::shared_ptr<tg::nn::Module> ddp_;
  std::shared_ptr<tg::data::DistributedSampler> sampler_;
};

// Rank and world size of the run (0 and 1 without mpirun).
int rank();
int world_size();

}  // namespace examples
