#pragma once
// Batches of a TensorDataset, PyTorch style:
//
//   data::DataLoader loader(train, {.batch_size = 128, .shuffle = true});
//   for (auto& [x, y] : loader) { ...; loader.add_loss(loss.item()); }
//
// Each pass (each begin()) is one epoch; with shuffle on, every epoch draws a new permutation
// from the loader's own generator, so a run repeats exactly for a given seed. A batch is
// assembled by copying the chosen rows straight into one freshly allocated tensor per field
// (no per-sample tensors); the batch tensors belong to the caller and stay valid after the
// loop moves on.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tapegrad/core/random.h"
#include "tapegrad/datasets/progress.h"
#include "tapegrad/datasets/sampler.h"
#include "tapegrad/datasets/tensor_dataset.h"

namespace tg::data {

struct Batch {
  Tensor inputs;
  Tensor targets;
};

struct DataLoaderOptions {
  std::int64_t batch_size = 64;
  bool shuffle = false;
  bool drop_last = false;  // skip the last batch when it is smaller than batch_size
  // Seed of the shuffling generator; unset draws one from the global generator when the loader
  // is made, so a program that calls manual_seed repeats.
  std::optional<std::uint64_t> seed = std::nullopt;
  // Progress bar per epoch: Auto shows it on a terminal only; On also prints plain lines every
  // 10% when stderr is not a terminal; Off never.
  ProgressMode progress = ProgressMode::Auto;
  std::string desc = {};  // progress label; empty: "epoch N"
  // Which samples each epoch visits, in which order (e.g. a DistributedSampler); replaces
  // shuffle, which must then be false.
  std::shared_ptr<const Sampler> sampler = nullptr;
};

class DataLoader {
 public:
  DataLoader(TensorDataset dataset, DataLoaderOptions options = {});
  DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options = {});

  class Iterator {
   public:
    using difference_type = std::ptrdiff_t;
    using value_type = Batch;
    Iterator() = default;
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return batch_ == other.batch_; }

   private:
    friend class DataLoader;
    Iterator(DataLoader* loader, std::int64_t batch) : loader_(loader), batch_(batch) {}
    DataLoader* loader_ = nullptr;
    std::int64_t batch_ = 0;
  };

  Iterator begin();  // starts a new epoch (and reshuffles when shuffle is on)
  Iterator end();

  std::int64_t size() const;  // batches per epoch
  std::int64_t dataset_size() const { return dataset_.size(); }
  std::int64_t epoch() const { return epoch_; }  // epochs started so far
  const TensorDataset& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  // The sample order of the current epoch.
  const std::vector<std::int64_t>& order() const { return order_; }

  // The samples at `indices`, assembled like a batch of the loop.
  Batch batch(std::span<const std::int64_t> indices) const;

  // Progress of the current epoch (no-ops when the bar is off).
  void add_loss(double loss);  // the bar shows the epoch's running mean loss
  // Mean of the losses added during the current (or just finished) epoch; NaN if none.
  double epoch_loss() const;
  void set_postfix(const std::string& key, double value);
  ProgressBar* progress() { return bar_.get(); }  // null when off or between epochs

 private:
  void load_batch(std::int64_t b);

  TensorDataset dataset_;
  DataLoaderOptions options_;
  Generator gen_;
  std::vector<std::int64_t> order_;
  std::int64_t epoch_ = 0;
  Batch current_;
  std::unique_ptr<ProgressBar> bar_;
  double loss_sum_ = 0.0;
  std::int64_t loss_count_ = 0;
};

// Rows `rows` of src (indexed along dim 0) as one new contiguous tensor
// [rows.size(), src.shape[1:]...]: one allocation, one memcpy per row, parallel when large.
Tensor gather_rows(const Tensor& src, std::span<const std::int64_t> rows);

}  // namespace tg::data
