#include "common/harness.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

#ifdef TAPEGRAD_EXAMPLES_MPI
#include <tapegrad/nn/parallel/distributed.h>
#include <tapegrad/nn/parallel/zero_redundancy_optimizer.h>
#endif

namespace examples {

using namespace tg;

namespace {

CLI::Validator number_check(std::string name, std::string rule, bool (*ok)(double)) {
  return CLI::Validator(
      [rule, ok](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          const double v = std::stod(text, &used);
          if (used == text.size() && ok(v)) return {};
        } catch (const std::exception&) {
        }
        return "must be " + rule + ", got " + text;
      },
      name);
}

CLI::Validator count_or_all() {
  return number_check("COUNT|-1", "-1 (all) or a positive count",
                      [](double v) { return v == -1.0 || (v >= 1.0 && v == std::floor(v)); });
}

}  // namespace

CLI::Validator positive() {
  return number_check("POSITIVE", "a positive number", [](double v) { return v > 0.0; });
}
CLI::Validator non_negative() {
  return number_check("NON-NEGATIVE", "zero or more", [](double v) { return v >= 0.0; });
}
CLI::Validator probability() {
  return number_check("IN [0,1)", "a probability in [0, 1)",
                      [](double v) { return v >= 0.0 && v < 1.0; });
}

void add_common_options(CLI::App& app, Options& o) {
  app.add_option("--epochs", o.epochs, "training epochs")->check(positive())->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "samples per training batch")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--lr", o.lr, "(initial) learning rate")->check(positive())->capture_default_str();
  app.add_option("--seed", o.seed, "seed of every random draw (init, shuffling, dropout)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads for kernels and BLAS; 0: every core")
      ->check(non_negative())
      ->capture_default_str();
  app.add_option("--dataset", o.dataset, "fashion (Fashion-MNIST) or mnist (digits)")
      ->check(CLI::IsMember({"fashion", "mnist"}))
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir,
                 "directory with the four IDX files (plain or .gz); default for fashion: " +
                     datasets::FashionMNIST::default_root().string());
  app.add_option("--plot", o.plot, "PNG of the loss and accuracy curves (gnuplot); '' skips")
      ->capture_default_str();
  app.add_option("--csv", o.csv, "CSV of the per-epoch metrics; '' skips")->capture_default_str();
  app.add_option("--limit-train", o.limit_train, "use only the first N training samples; -1: all")
      ->check(count_or_all())
      ->capture_default_str();
  app.add_option("--limit-test", o.limit_test, "use only the first N test samples; -1: all")
      ->check(count_or_all())
      ->capture_default_str();
  app.add_flag("!--no-zero", o.zero,
               "under mpirun, every rank steps the whole optimizer instead of its 1/N shard");
}

namespace {

// Uncaught errors (a missing dataset, a bad shape) end the program with one readable line
// instead of std::terminate's "terminate called after throwing an instance of ...".
[[noreturn]] void report_and_exit() {
  std::cout.flush();
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::cerr << "error: " << x.what() << std::endl;
    } catch (...) {
      std::cerr << "error: unknown exception" << std::endl;
    }
  }
  std::_Exit(1);
}

#ifdef TAPEGRAD_EXAMPLES_MPI
std::optional<distributed::ProcessGroup> g_world;  // joined when mpirun started us
#endif

// A stream buffer that drops everything: ranks other than 0 print nothing.
struct NullBuffer : std::streambuf {
  int overflow(int c) override { return c; }
};
NullBuffer g_null;

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

}  // namespace

int rank() {
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (g_world) return g_world->rank();
#endif
  return 0;
}

int world_size() {
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (g_world) return g_world->world_size();
#endif
  return 1;
}

void setup(const Options& o) {
  std::set_terminate(report_and_exit);
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (std::getenv("OMPI_COMM_WORLD_SIZE") && !g_world) g_world.emplace();
  if (rank() != 0) std::cout.rdbuf(&g_null);
#endif
  manual_seed(o.seed);
  if (o.threads > 0) set_num_threads(o.threads);
  if (world_size() > 1) std::cout << "ranks=" << world_size() << " (data-parallel) ";
  std::cout << "dataset=" << o.dataset << " epochs=" << o.epochs << " batch_size=" << o.batch_size
            << " lr=" << o.lr << " seed=" << o.seed << " threads=" << get_num_threads()
            << " blas=\"" << blas_info().to_string() << "\"" << std::endl;
}

Data load_data(const Options& o, datasets::MNISTOptions base) {
  base.flatten = true;
  base.scale = true;
  datasets::MNISTOptions train_opts = base, test_opts = base;
  train_opts.limit = o.limit_train;
  test_opts.limit = o.limit_test;
  Data d;
  if (o.dataset == "mnist") {
    TG_CHECK(!o.data_dir.empty(),
             "--dataset mnist needs --data-dir DIR holding train-images-idx3-ubyte[.gz], "
             "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and "
             "t10k-labels-idx1-ubyte[.gz]");
    d.train = datasets::MNIST(o.data_dir, datasets::Split::Train, train_opts);
    d.test = datasets::MNIST(o.data_dir, datasets::Split::Test, test_opts);
    for (auto c : datasets::MNIST::classes()) d.classes.push_back(c);
  } else {
    const std::filesystem::path root = o.data_dir.empty() ? datasets::FashionMNIST::default_root()
                                                          : std::filesystem::path(o.data_dir);
    d.train = datasets::FashionMNIST(root, datasets::Split::Train, train_opts);
    d.test = datasets::FashionMNIST(root, datasets::Split::Test, test_opts);
    for (auto c : datasets::FashionMNIST::classes()) d.classes.push_back(c);
  }
  std::cout << "train " << d.train.size() << " samples, test " << d.test.size() << " samples"
            << (base.standardize ? " (standardized)" : " (scaled to [0, 1])") << std::endl;
  return d;
}

std::pair<data::TensorDataset, data::TensorDataset> split_validation(
    const data::TensorDataset& train, std::int64_t size) {
  TG_CHECK(size > 0 && size < train.size(), "validation split: size ", size, " must be in [1, ",
           train.size() - 1, "] for ", train.size(), " training samples");
  const std::int64_t n = train.size() - size;
  return {train.slice(0, n), train.slice(n, train.size())};
}

Run::Run(const Options& opts, nn::Module& model, std::string name, LossFn loss_fn, const Data& data)
    : opts_(opts),
      model_(model),
      name_(std::move(name)),
      loss_fn_(std::move(loss_fn)),
      data_(data),
      start_(Clock::now()),
      epoch_start_(start_) {
  std::cout << model_ << "\n";
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (world_size() > 1)  // rank 0's weights everywhere; gradients averaged during backward
    ddp_ = std::make_shared<nn::parallel::DistributedDataParallel>(
        model_, nn::parallel::DistributedDataParallelOptions{.sync_without_forward = true,
                                                             .gradient_as_bucket_view = true});
#endif
  if (rank() != 0) opts_.csv = opts_.plot = "";
  // Same weights everywhere (broadcast above), but each rank its own dropout masks.
  if (world_size() > 1) manual_seed(opts_.seed + 7919u * static_cast<std::uint64_t>(rank()));
}

data::DataLoader Run::train_loader(const data::TensorDataset& train, bool progress) {
  if (world_size() == 1)
    return data::DataLoader(train, {.batch_size = opts_.batch_size,
                                    .shuffle = true,
                                    .progress = progress ? ProgressMode::On : ProgressMode::Off});
  // Each rank a shard of every epoch; the global batch stays --batch-size.
  sampler_ = std::make_shared<data::DistributedSampler>(
      train.size(), data::DistributedSamplerOptions{
                        .num_replicas = world_size(), .rank = rank(), .seed = opts_.seed});
  return data::DataLoader(
      train, {.batch_size = std::max<std::int64_t>(1, opts_.batch_size / world_size()),
              .progress = progress && rank() == 0 ? ProgressMode::On : ProgressMode::Off,
              .sampler = sampler_});
}

std::unique_ptr<optim::Optimizer> Run::make_optimizer(const MakeOptimizer& make) {
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (ddp_ && opts_.zero)
    return std::make_unique<nn::parallel::ZeroRedundancyOptimizer>(
        static_cast<nn::parallel::DistributedDataParallel&>(*ddp_), make);
#endif
  return make(model_.parameters());
}

void Run::set_validation(data::TensorDataset val) { val_ = std::move(val); }

void Run::record(data::DataLoader& loader, const Tensor& loss, const Tensor& logits,
                 const Tensor& targets) {
  const double l = loss.item<double>();
  const std::int64_t n = targets.size(0);
  loader.add_loss(l);
  loss_sum_ += l * static_cast<double>(n);
  loss_samples_ += n;
  correct_ += metrics::correct(logits.detach(), targets);
}

metrics::Evaluation Run::evaluate(const data::TensorDataset& set) {
#ifdef TAPEGRAD_EXAMPLES_MPI
  // Rank 0's batch-norm statistics are the model's (each rank kept its own while training).
  if (ddp_) static_cast<nn::parallel::DistributedDataParallel&>(*ddp_).broadcast_buffers();
#endif
  const bool was_training = model_.is_training();
  model_.eval();
  NoGradGuard no_grad;
  // Batches of 1000; with several ranks each evaluates a contiguous share of the batches and
  // the per-batch figures are gathered and added in batch order, so the result is the same bits
  // as one process's.
  constexpr std::int64_t kBatch = 1000;
  const std::int64_t batches = (set.size() + kBatch - 1) / kBatch;
  const std::int64_t W = world_size(), per_rank = (batches + W - 1) / W;
  const std::int64_t first = std::min(batches, rank() * per_rank);
  const std::int64_t last = std::min(batches, first + per_rank);
  // Row k: loss * samples, correct, samples of this rank's k-th batch (zeros past its last).
  std::vector<double> rows(static_cast<std::size_t>(per_rank) * 3, 0.0);
  data::DataLoader loader(set.slice(first * kBatch, last * kBatch),
                          {.batch_size = kBatch, .progress = ProgressMode::Off});
  double* row = rows.data();
  for (auto& [x, y] : loader) {
    const Tensor out = model_(x);
    const auto n = static_cast<double>(y.size(0));
    row[0] = loss_fn_ ? loss_fn_(out, y).item<double>() * n : 0.0;
    row[1] = static_cast<double>(metrics::correct(out, y));
    row[2] = n;
    row += 3;
  }
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (W > 1) rows = distributed::all_gather(from_vector(rows)).to_vector<double>();
#endif
  double loss_sum = 0.0, hits = 0.0, samples = 0.0;
  for (std::size_t k = 0; k < rows.size(); k += 3) {
    loss_sum += rows[k];
    hits += rows[k + 1];
    samples += rows[k + 2];
  }
  model_.train(was_training);
  metrics::Evaluation r;
  r.samples = static_cast<std::int64_t>(samples);
  if (r.samples > 0) {
    r.accuracy = hits / samples;
    r.loss = loss_fn_ ? loss_sum / samples : 0.0;
  }
  return r;
}

metrics::Evaluation Run::end_epoch(std::int64_t epoch, double lr, const TrainingLog::Metrics& extra,
                                   bool print) {
  const auto eval = evaluate(val_ ? *val_ : data_.test);
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (world_size() > 1) {  // the table shows the global figures
    Tensor sums = tensor(
        {loss_sum_, static_cast<double>(loss_samples_), static_cast<double>(correct_)}, kFloat64);
    distributed::all_reduce(sums);
    loss_sum_ = sums.at<double>({0});
    loss_samples_ = sums.at<std::int64_t>({1});
    correct_ = sums.at<std::int64_t>({2});
  }
#endif
  if (sampler_) sampler_->set_epoch(epoch);  // the next epoch's shuffle
  const std::string prefix = val_ ? "val" : "test";
  const double n = static_cast<double>(loss_samples_);
  TrainingLog::Metrics row = {
      {"train_loss", loss_samples_ ? loss_sum_ / n : std::nan("")},
      {"train_acc", loss_samples_ ? static_cast<double>(correct_) / n : std::nan("")},
      {prefix + "_loss", eval.loss},
      {prefix + "_acc", eval.accuracy},
      {"lr", lr},
  };
  row.insert(row.end(), extra.begin(), extra.end());
  const auto now = Clock::now();
  row.emplace_back("seconds", std::chrono::duration<double>(now - epoch_start_).count());
  epoch_start_ = now;
  log_.add(epoch, row);
  if (print) log_.print_last(std::cout);
  loss_sum_ = 0.0;
  loss_samples_ = correct_ = 0;
  return eval;
}

void Run::note(const std::string& text) { std::cout << text << std::endl; }

double Run::elapsed_seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

int Run::finish() {
  const double train_seconds = elapsed_seconds();
  const Tensor& labels = data_.test.targets();
  Tensor logits;
  double test_loss = 0.0;
  {
    const bool was_training = model_.is_training();
    model_.eval();
    NoGradGuard no_grad;
    // In batches of 1000, as evaluate() does: one pass over the whole set would hold every
    // layer's activations (and a convolution's im2col workspace) for all of it at once.
    const Tensor& inputs = data_.test.inputs();
    const std::int64_t n = inputs.size(0);
    std::vector<Tensor> parts;
    for (std::int64_t start = 0; start < n; start += 1000)
      parts.push_back(model_(inputs.narrow(0, start, std::min<std::int64_t>(1000, n - start))));
    logits = cat(parts, 0);
    test_loss = loss_fn_(logits, labels).item<double>();
    model_.train(was_training);
  }
  const double test_acc = metrics::accuracy(logits, labels);
  const auto per_class =
      metrics::per_class_accuracy(logits, labels, static_cast<std::int64_t>(data_.classes.size()));
  std::cout << "\nper-class test accuracy:";
  for (std::size_t c = 0; c < per_class.size(); ++c)
    std::cout << (c % 5 == 0 ? "\n  " : "   ") << data_.classes[c] << " " << fixed(per_class[c], 3);
  std::cout << "\n";
  if (!opts_.csv.empty()) {
    log_.write_csv(opts_.csv);
    std::cout << "wrote " << opts_.csv << "\n";
  }
  if (!opts_.plot.empty() && log_.plot(opts_.plot, {.title = name_ + " on " + opts_.dataset}))
    std::cout << "wrote " << opts_.plot << "\n";
  std::cout << name_ << ": test_loss " << fixed(test_loss, 4) << ", " << log_.rows()
            << " epochs in " << fixed(train_seconds, 1) << " s\n";
#ifdef TAPEGRAD_EXAMPLES_MPI
  if (ddp_) {
    const auto& ddp = static_cast<const nn::parallel::DistributedDataParallel&>(*ddp_);
    std::cout << "data-parallel: " << world_size() << " ranks, " << ddp.num_buckets()
              << " gradient buckets; backward waited " << fixed(ddp.wait_seconds(), 2)
              << " s in all for reductions still in flight after its last gradient\n";
  }
#endif
  std::cout << "test_accuracy=" << fixed(test_acc, 4) << std::endl;
  return 0;
}

}  // namespace examples
