#pragma once
// Samplers choose which samples a DataLoader visits in an epoch, and in which order.
// DistributedSampler gives each of N processes its own shard (PyTorch's DistributedSampler);
// it needs no MPI: pass the rank and world size from tg::distributed::ProcessGroup.
#include <cstdint>
#include <vector>

namespace tg::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The sample indices of the next epoch, in visiting order.
  virtual std::vector<std::int64_t> indices() const = 0;
  virtual std::int64_t size() const = 0;  // indices().size()
};

struct DistributedSamplerOptions {
  std::int64_t num_replicas = 1;  // world size
  std::int64_t rank = 0;
  bool shuffle = true;
  std::uint64_t seed = 0;  // the same on every rank
  // false: the index list is padded by repeating its start so that every rank gets the same
  // number of samples; true: the tail that does not divide evenly is dropped.
  bool drop_last = false;
};

class DistributedSampler final : public Sampler {
 public:
  DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options = {});
  // Reshuffles: epoch e draws the permutation seeded by seed + e, identical on every rank.
  // As in PyTorch, call it at the start of every epoch (without it every epoch repeats).
  void set_epoch(std::int64_t epoch) { epoch_ = epoch; }
  std::int64_t epoch() const { return epoch_; }
  // Rank r takes positions r, r + N, r + 2N, ... of the (shuffled, padded) list.
  std::vector<std::int64_t> indices() const override;
  std::int64_t size() const override { return num_samples_; }
  std::int64_t total_size() const { return num_samples_ * options_.num_replicas; }

 private:
  std::int64_t dataset_size_;
  DistributedSamplerOptions options_;
  std::int64_t num_samples_;
  std::int64_t epoch_ = 0;
};

}  // namespace tg::data
