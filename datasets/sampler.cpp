#include "tapegrad/datasets/sampler.h"

#include <numeric>

#include "tapegrad/core/error.h"
#include "tapegrad/core/random.h"

namespace tg::data {

DistributedSampler::DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options)
    : dataset_size_(dataset_size), options_(options) {
  TG_CHECK(dataset_size >= 0, "DistributedSampler: dataset size must be non-negative, got ",
           dataset_size);
  TG_CHECK(options.num_replicas >= 1, "DistributedSampler: num_replicas must be at least 1, got ",
           options.num_replicas);
  TG_CHECK(options.rank >= 0 && options.rank < options.num_replicas, "DistributedSampler: rank ",
           options.rank, " is outside [0, ", options.num_replicas - 1, "]");
  const std::int64_t n = dataset_size, w = options.num_replicas;
  // PyTorch's sizes: drop_last keeps floor(n / w) per rank, otherwise ceil(n / w) with padding.
  num_samples_ = options.drop_last ? n / w : n / w + (n % w != 0);
}

std::vector<std::int64_t> DistributedSampler::indices() const {
  std::vector<std::int64_t> all(static_cast<std::size_t>(dataset_size_));
  std::iota(all.begin(), all.end(), 0);
  if (options_.shuffle) {
    // Fisher-Yates from seed + epoch: every rank draws the same permutation.
    Generator gen(options_.seed + static_cast<std::uint64_t>(epoch_));
    for (std::int64_t i = dataset_size_ - 1; i > 0; --i)
      std::swap(all[static_cast<std::size_t>(i)],
                all[static_cast<std::size_t>(gen.randint(0, i + 1))]);
  }
  const auto total = static_cast<std::size_t>(total_size());
  if (all.size() > total) {
    all.resize(total);
  } else {
    for (std::size_t i = 0; all.size() < total; ++i) all.push_back(all[i % dataset_size_]);
  }
  std::vector<std::int64_t> mine;
  mine.reserve(static_cast<std::size_t>(num_samples_));
  for (std::size_t i = static_cast<std::size_t>(options_.rank); i < total;
       i += static_cast<std::size_t>(options_.num_replicas))
    mine.push_back(all[i]);
  return mine;
}

}  // namespace tg::data
