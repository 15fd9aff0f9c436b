#pragma once
// nn::parallel::DistributedDataParallel: the same model on every rank, each rank a share of the
// batch, gradients averaged over ranks during backward (PyTorch's DDP, on MPI).
//
//   tg::distributed::ProcessGroup world;
//   Net net;                                      // same architecture on every rank
//   nn::parallel::DistributedDataParallel ddp(net);  // rank 0's weights go to every rank
//   optim::Adam opt(ddp.parameters(), {...});
//   for (auto& b : loader) {                      // each rank its shard (DistributedSampler)
//     opt.zero_grad();
//     cross_entropy(ddp(b.inputs), b.targets).backward();  // gradients arrive averaged
//     opt.step();
//   }
//
// During backward, each parameter's gradient is copied into a bucket as soon as it is final
// (parameters in reverse registration order, buckets of about bucket_cap_bytes); a full bucket
// starts a non-blocking all-reduce while the rest of the backward pass runs, and backward()
// returns once the last bucket is reduced and the averages are back in .grad.
//
// Bit-identical: the all-reduce adds ranks' gradients in rank order (tg::distributed), so N
// ranks with one micro-batch each end every step with the same weights as one process that
// accumulates the same N micro-batches in rank order and divides the gradients by N, and every
// rank holds the same weights.
//
// A ZeroRedundancyOptimizer (zero_redundancy_optimizer.h) made on this wrapper shards the
// optimizer over the ranks: buckets are then only reduce-scattered.
//
// Deliberate difference from PyTorch: buffers are broadcast from rank 0 at every training-mode
// forward (PyTorch's broadcast_buffers=True default) but never between.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/nn/module.h"
#include "tapegrad/nn/parallel/process_group.h"

namespace tg::nn::parallel {

struct DistributedDataParallelOptions {
  std::int64_t bucket_cap_bytes = std::int64_t{25} << 20;  // PyTorch's bucket_cap_mb = 25
  bool broadcast_buffers = true;
  // Find, at each forward, the parameters the output does not depend on and reduce them as
  // zero gradients (costs a walk of the graph). Without it, a parameter that gets no gradient
  // is reported at the next forward.
  bool find_unused_parameters = false;
  // Also reduce during backward passes whose forward did not go through this wrapper (model(x)
  // called directly): an iteration then starts at its first gradient, and every trainable
  // parameter must receive a gradient in every backward. The examples' harness uses it to make
  // an unchanged program data-parallel under mpirun.
  bool sync_without_forward = false;
  // Leave each reduced gradient in its bucket: .grad becomes a view of the bucket instead of a
  // copy (PyTorch's option of the same name), which saves a copy of every gradient per step.
  // The bucket is refilled by the next backward, so a .grad kept from an earlier step changes
  // with it; zero_grad() and gradient accumulation work as usual.
  bool gradient_as_bucket_view = false;
};

class DistributedDataParallel : public Module {
 public:
  // Checks that every rank has the same parameter and buffer names, shapes and dtypes (a
  // mismatch is the same tg::Error on every rank), then copies rank 0's values to all ranks.
  explicit DistributedDataParallel(Module& module, DistributedDataParallelOptions options = {});
  ~DistributedDataParallel() override;

  Tensor forward(const Tensor& input) override;
  Module& module() { return module_; }

  // While a guard is alive, backward passes accumulate gradients locally (no communication):
  // gradient accumulation over several micro-batches, then one synchronised backward.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& ddp);
    ~NoSyncGuard();
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool prev_;
  };
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*this); }

  // Copies rank 0's buffers (batch norm's running statistics) to every rank: what a training
  // forward does with broadcast_buffers; call it before evaluating on several ranks when the
  // forward passes did not go through this wrapper.
  void broadcast_buffers();

  std::int64_t num_buckets() const;
  // Seconds backward spent waiting for reductions after its last gradient was ready, summed
  // over iterations (the communication that did not hide behind the backward pass).
  double wait_seconds() const;

  struct Reducer;  // defined in distributed.cpp

 private:
  // For ZeroRedundancyOptimizer, which takes over the buckets' reduction.
  friend class ZeroRedundancyOptimizer;
  void reduce_scatter_only(bool on);                   // buckets are only reduce-scattered while on
  std::uint64_t reductions() const;                    // synchronised backward passes completed
  const std::vector<Tensor>& bucketed_params() const;  // reverse registration order
  struct BucketView {
    const std::vector<std::size_t>& params;    // indices into bucketed_params()
    const std::vector<std::int64_t>& offsets;  // each one's first element in flat
    const Tensor& flat;
  };
  BucketView bucket(std::size_t b) const;
  Module& module_;
  DistributedDataParallelOptions options_;
  distributed::ProcessGroup world_;
  std::unique_ptr<Reducer> reducer_;
};

}  // namespace tg::nn::parallel
