#include "tapegrad/datasets/dataloader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "tapegrad/ops/kernels/copy_rows.h"

namespace tg::data {

Tensor gather_rows(const Tensor& src_in, std::span<const std::int64_t> rows) {
  TG_CHECK(src_in.defined() && src_in.dim() >= 1, "gather_rows: need a tensor with a row dim, got ",
           src_in.defined() ? shape_str(src_in.shape()) : "an undefined tensor");
  const Tensor src = src_in.contiguous();
  const std::int64_t n = src.size(0);
  for (auto r : rows)
    TG_CHECK(r >= 0 && r < n, "gather_rows: row ", r, " is out of range for ", n, " rows");
  Shape shape = src.shape();
  shape[0] = static_cast<std::int64_t>(rows.size());
  Tensor out = empty(shape, src.dtype());
  const std::size_t row_bytes = n ? src.nbytes() / static_cast<std::size_t>(n) : 0;
  if (row_bytes == 0 || rows.empty()) return out;
  kernels::copy_rows(static_cast<std::byte*>(out.raw_data()),
                     static_cast<const std::byte*>(src.raw_data()), row_bytes,
                     static_cast<std::int64_t>(rows.size()),
                     [rows](std::int64_t i) { return rows[static_cast<std::size_t>(i)]; });
  return out;
}

DataLoader::DataLoader(TensorDataset dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TG_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ",
           options_.batch_size);
  TG_CHECK(dataset_.size() == 0 || dataset_.inputs().size(0) == dataset_.targets().size(0),
           "DataLoader: inputs have ", dataset_.inputs().size(0), " samples but targets have ",
           dataset_.targets().size(0));
  TG_CHECK(!(options_.sampler && options_.shuffle),
           "DataLoader: shuffle must be false when a sampler is given (the sampler orders)");
  gen_.manual_seed(options_.seed ? *options_.seed : default_generator().engine()());
  order_.resize(static_cast<std::size_t>(dataset_.size()));
  std::iota(order_.begin(), order_.end(), 0);
}

namespace {
TensorDataset checked_dataset(Tensor inputs, Tensor targets) {
  TG_CHECK(inputs.defined() && targets.defined(),
           "DataLoader: inputs and targets must both be defined tensors");
  TG_CHECK(inputs.dim() >= 1 && targets.dim() >= 1 && inputs.size(0) == targets.size(0),
           "DataLoader: inputs ", shape_str(inputs.shape()), " and targets ",
           shape_str(targets.shape()), " must have the same number of samples (dim 0)");
  return TensorDataset(std::move(inputs), std::move(targets));
}
}  // namespace

DataLoader::DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options)
    : DataLoader(checked_dataset(std::move(inputs), std::move(targets)), std::move(options)) {}

std::int64_t DataLoader::size() const {
  const std::int64_t n = options_.sampler ? options_.sampler->size() : dataset_.size();
  const std::int64_t b = options_.batch_size;
  return n / b + (!options_.drop_last && n % b != 0);  // no n + b - 1: b may be INT64_MAX
}

DataLoader::Iterator DataLoader::begin() {
  bar_.reset();  // an earlier epoch left early: finish its line first
  ++epoch_;
  loss_sum_ = 0.0;
  loss_count_ = 0;
  if (options_.sampler) {
    order_ = options_.sampler->indices();
    for (const auto i : order_)
      TG_CHECK(i >= 0 && i < dataset_.size(), "DataLoader: the sampler gave index ", i,
               " outside a dataset of ", dataset_.size());
  } else if (options_.shuffle) {
    std::iota(order_.begin(), order_.end(), 0);
    // Fisher-Yates with the loader's generator: the same seed gives the same epochs everywhere.
    for (std::int64_t i = static_cast<std::int64_t>(order_.size()) - 1; i > 0; --i)
      std::swap(order_[i], order_[gen_.randint(0, i + 1)]);
  }
  if (options_.progress != ProgressMode::Off) {
    ProgressOptions po;
    po.desc = options_.desc.empty() ? "epoch " + std::to_string(epoch_) : options_.desc;
    po.mode = options_.progress;
    bar_ = std::make_unique<ProgressBar>(size(), std::move(po));
    if (!bar_->active()) bar_.reset();
  }
  if (size() == 0) {
    bar_.reset();
    return end();
  }
  load_batch(0);
  return Iterator(this, 0);
}

DataLoader::Iterator DataLoader::end() { return Iterator(this, size()); }

void DataLoader::load_batch(std::int64_t b) {
  const std::int64_t start = b * options_.batch_size;  // b < size(), so this is < dataset size
  const auto n = static_cast<std::int64_t>(order_.size());
  const std::int64_t stop = start + std::min(options_.batch_size, n - start);
  current_ = batch(std::span<const std::int64_t>(order_).subspan(
      static_cast<std::size_t>(start), static_cast<std::size_t>(stop - start)));
}

Batch DataLoader::batch(std::span<const std::int64_t> indices) const {
  return Batch{gather_rows(dataset_.inputs(), indices), gather_rows(dataset_.targets(), indices)};
}

Batch& DataLoader::Iterator::operator*() const {
  TG_CHECK(loader_ && batch_ < loader_->size(), "DataLoader: dereferencing the end iterator");
  return loader_->current_;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  TG_CHECK(loader_ && batch_ < loader_->size(), "DataLoader: incrementing past the end");
  ++batch_;
  if (loader_->bar_) loader_->bar_->update(1);
  if (batch_ < loader_->size()) {
    loader_->load_batch(batch_);
  } else {
    loader_->bar_.reset();  // epoch done: the bar prints its final line
    loader_->current_ = Batch{};
  }
  return *this;
}

void DataLoader::add_loss(double loss) {
  loss_sum_ += loss;
  ++loss_count_;
  if (bar_) bar_->add_loss(loss);
}

double DataLoader::epoch_loss() const {
  return loss_count_ ? loss_sum_ / static_cast<double>(loss_count_)
                     : std::numeric_limits<double>::quiet_NaN();
}

void DataLoader::set_postfix(const std::string& key, double value) {
  if (bar_) bar_->set_postfix(key, value);
}

}  // namespace tg::data
