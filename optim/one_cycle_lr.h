#pragma once
// The 1cycle policy (PyTorch's OneCycleLR), stepped once per batch: the rate rises from
// max_lr / div_factor to max_lr over the first pct_start of total_steps, then anneals to
// max_lr / (div_factor * final_div_factor); three_phase goes back down to the initial rate
// first (symmetric to the rise) and anneals to the minimum in the last phase. Momentum cycles
// the other way between max_momentum and base_momentum: SGD's and RMSprop's momentum, Adam's and
// AdamW's beta1 (another optimizer with cycle_momentum is an error; pass
// cycle_momentum = false). As in PyTorch, construction sets each group's initial_lr to
// max_lr / div_factor and its momentum to max_momentum, and stepping past total_steps is an
// error. Deliberate difference: where the step to total_steps itself extrapolates a linear
// anneal below 0, tapegrad's set_lr refuses the negative rate (PyTorch sets it).
#include <cstdint>
#include <vector>

#include "tapegrad/optim/lr_scheduler.h"

namespace tg::optim {

enum class AnnealStrategy { Cos, Linear };

struct OneCycleLROptions {
  std::int64_t total_steps = 0;  // or 0 and epochs * steps_per_epoch
  std::int64_t epochs = 0;
  std::int64_t steps_per_epoch = 0;
  double pct_start = 0.3;
  AnnealStrategy anneal_strategy = AnnealStrategy::Cos;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, const OneCycleLROptions& options);
  // One max_lr per parameter group.
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, const OneCycleLROptions& options);
  std::int64_t total_steps() const { return total_steps_; }

 protected:
  std::vector<double> compute_lrs() override;

 private:
  struct Phase {
    double end_step;
    int start, end;  // 0 initial, 1 max, 2 min (rates); momentum runs max <-> base alongside
  };
  double anneal(double start, double end, double pct) const;
  OneCycleLROptions o_;
  std::int64_t total_steps_ = 0;
  std::vector<double> max_lrs_;
  std::vector<Phase> phases_;
};

}  // namespace tg::optim
