#pragma once
// ZeroRedundancyOptimizer: data parallelism in which each rank keeps the optimizer state of, and
// steps, only its 1/N share of the parameters (ZeRO stages 1 and 2). PyTorch's
// ZeroRedundancyOptimizer shards the state too but keeps DDP's full all-reduce and then
// broadcasts each rank's parameters; here the wrapper only reduce-scatters, so the traffic stays
// that of one all-reduce. Part of tapegrad::distributed.
//
//   nn::parallel::DistributedDataParallel ddp(net);
//   nn::parallel::ZeroRedundancyOptimizer opt(ddp, [](std::vector<Tensor> shard) {
//     return std::make_unique<optim::Adam>(std::move(shard), optim::AdamOptions{.lr = 1e-3});
//   });
//   optim::CosineAnnealingLR schedule(opt, {.T_max = epochs});   // any scheduler works on it
//   for (...) { opt.zero_grad(); loss_fn(ddp(x), y).backward(); opt.step(); }
//
// Built on a DistributedDataParallel wrapper, it changes what the wrapper does in backward: each
// bucket is only reduce-scattered, so rank r ends backward holding the average gradient of its
// shard of every bucket (tg::distributed::shard_range) and nothing else. step() runs the inner
// optimizer (made by the factory over views of those shards: it updates the parameters in
// place) and then gathers every rank's updated shards into every rank's parameters. Per rank,
// that is 1/N of the optimizer's work and state, and the same traffic as an all-reduce.
//
// Bit-identical: the shards' gradients are the same bits as DistributedDataParallel's averages,
// and the inner optimizer must update each element from that element's gradient and state only
// (true of tapegrad's SGD, Adam, AdamW, RMSprop and Adagrad), so the weights after every step
// equal those of the inner optimizer over all parameters with plain DistributedDataParallel, and
// so those of one process accumulating the same micro-batches.
//
// Differences from an optimizer over the whole model:
//  - after backward, a parameter's .grad is this rank's own gradient, not the average (only the
//    shards are averaged), so clip_grad_norm_ and other reads of .grad across the model do not
//    see the average; use plain DistributedDataParallel when the step needs them;
//  - one parameter group (the factory's options); lr() and set_lr() reach the inner optimizer;
//  - state_dict() is a collective (every rank must call it, in the same order as other
//    collectives): it returns, on every rank, the state dict of the inner optimizer over all
//    parameters in registration order (the same keys as e.g. optim::Adam(net.parameters())),
//    which load_state_dict() takes back on any number of ranks.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tapegrad/nn/parallel/distributed.h"
#include "tapegrad/optim/optimizer.h"

namespace tg::nn::parallel {

class ZeroRedundancyOptimizer : public optim::Optimizer {
 public:
  // Makes the inner optimizer over this rank's shard views (1-D views into the parameters).
  using MakeInner = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

  // Only one ZeroRedundancyOptimizer per wrapper at a time (the wrapper must outlive it; when it
  // is destroyed the wrapper averages whole gradients again); every trainable parameter must be
  // contiguous.
  ZeroRedundancyOptimizer(DistributedDataParallel& ddp, const MakeInner& make_inner);
  ~ZeroRedundancyOptimizer() override;

  // Steps this rank's shards, then gathers every rank's. Throws when no synchronised backward
  // has reduced gradients since the last step.
  void step() override;
  using Optimizer::step;

  std::size_t num_param_groups() const override { return 1; }
  // The whole model's trainable parameters (zero_grad() drops their .grad).
  const std::vector<Tensor>& params(std::size_t group) const override;
  double lr(std::size_t group = 0) const override;
  void set_lr(std::size_t group, double lr) override;
  using Optimizer::set_lr;

  StateDict state_dict() const override;  // a collective; see above
  void load_state_dict(const StateDict& state) override;

  optim::Optimizer& inner() { return *inner_; }

 private:
  // A slice of one parameter that is part of some rank's shard.
  struct Slice {
    std::size_t param;        // index into params()
    std::int64_t begin, n;    // elements [begin, begin + n) of the flattened parameter
    std::size_t bucket;       // the wrapper's bucket that holds it,
    std::int64_t flat_begin;  // from this element of the bucket on
  };
  std::vector<Slice> slices_of(int rank) const;

  DistributedDataParallel& ddp_;
  std::vector<Tensor> params_;           // registration order
  std::vector<std::size_t> reducer_to_;  // the wrapper's parameter index -> index in params_
  std::unique_ptr<optim::Optimizer> inner_;
  std::uint64_t stepped_at_ = 0;  // the wrapper's reduction count at the last step
};

}  // namespace tg::nn::parallel
