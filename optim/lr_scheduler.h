#pragma once
// Learning-rate schedulers. Each adjusts the learning rate of every parameter group of one
// optimizer; call step() once per epoch after the optimizer's steps (ReduceLROnPlateau:
// step(metric)). Constructing a scheduler applies its epoch-0 rate, as in PyTorch.
//
// Base rates follow PyTorch 1.13: the first scheduler made on an optimizer records each group's
// rate as the group's initial_lr (Optimizer::initial_lr), and every scheduler takes its
// base_lrs from there, not from the rate another scheduler has already changed.
// StepLR, ExponentialLR, ConstantLR, LinearLR and CosineAnnealingLR use PyTorch's chainable
// (recursive) get_lr updates, so schedulers stepping the same optimizer compose step by step as
// they do there; SequentialLR and ChainedScheduler combine them like PyTorch's.
//
// state_dict() holds the scheduler's progress (last_epoch, base and last rates, plateau
// counters); the rates themselves live in the optimizer's own state dict. Deliberate
// difference: initial_lr is not saved in the optimizer's state dict; loading a scheduler's
// state sets it from the saved base_lrs instead.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <vector>

#include "tapegrad/core/state_dict.h"
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

// What every scheduler shares: the optimizer, the epoch count, base and last rates, state dicts.
// It has no step(): LRScheduler steps once per epoch with step(), ReduceLROnPlateau only with
// step(metric), so calling plateau.step() without the metric does not compile.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // The rates set by the last step (one per parameter group).
  const std::vector<double>& get_last_lr() const { return last_lrs_; }

  virtual StateDict state_dict() const;
  // Checks the layout (same number of groups, all fields present) before changing anything.
  virtual void load_state_dict(const StateDict& state);
  const Optimizer& optimizer() const { return optimizer_; }

 protected:
  // uses_initial_lr: sets each group's initial_lr if absent and takes base_lrs from it
  // (PyTorch's _LRScheduler); otherwise base_lrs are the current rates (ReduceLROnPlateau).
  explicit Scheduler(Optimizer& optimizer, bool uses_initial_lr = true);
  // Derived constructors call this last: applies the epoch-0 rates.
  void initialize();
  // The rates for last_epoch_, given the optimizer's current ones (PyTorch's get_lr).
  virtual std::vector<double> compute_lrs() = 0;
  // The rates for last_epoch_ from base_lrs alone (PyTorch's _get_closed_form_lr, else get_lr):
  // what SequentialLR uses at a milestone (PyTorch's step(0)).
  virtual std::vector<double> closed_form_lrs() { return compute_lrs(); }
  std::vector<double> current_lrs() const;
  void apply(const std::vector<double>& lrs);
  void check_groups() const;  // the optimizer still has the groups the scheduler knows

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;  // the groups' initial_lr
  std::vector<double> last_lrs_;
  std::int64_t last_epoch_ = -1;
  bool uses_initial_lr_ = true;

  friend class SequentialLR;
  friend class ChainedScheduler;
};

// A scheduler stepped once per epoch without a metric; SequentialLR and ChainedScheduler
// combine these (so a ReduceLROnPlateau cannot be passed to them).
class LRScheduler : public Scheduler {
 public:
  // Advances one epoch and sets the new rates on the optimizer.
  virtual void step();

 protected:
  using Scheduler::Scheduler;

  friend class SequentialLR;
  friend class ChainedScheduler;
};

// Multiplies the rate by gamma every step_size epochs.
struct StepLROptions {
  std::int64_t step_size = 1;
  double gamma = 0.1;
};
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);

 protected:
  std::vector<double> compute_lrs() override;
  std::vector<double> closed_form_lrs() override;

 private:
  StepLROptions o_;
};

// Multiplies the rate by gamma every epoch.
struct ExponentialLROptions {
  double gamma = 0.9;
};
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options);

 protected:
  std::vector<double> compute_lrs() override;
  std::vector<double> closed_form_lrs() override;

 private:
  ExponentialLROptions o_;
};

// Multiplies the rate by factor until epoch total_iters, then restores it.
struct ConstantLROptions {
  double factor = 1.0 / 3.0;
  std::int64_t total_iters = 5;
};
class ConstantLR : public LRScheduler {
 public:
  ConstantLR(Optimizer& optimizer, const ConstantLROptions& options = {});

 protected:
  std::vector<double> compute_lrs() override;
  std::vector<double> closed_form_lrs() override;

 private:
  ConstantLROptions o_;
};

// Scales the base rate by a factor moving linearly from start_factor to end_factor over
// total_iters epochs, then holds it.
struct LinearLROptions {
  double start_factor = 1.0 / 3.0;
  double end_factor = 1.0;
  std::int64_t total_iters = 5;
};
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, const LinearLROptions& options = {});

 protected:
  std::vector<double> compute_lrs() override;
  std::vector<double> closed_form_lrs() override;

 private:
  LinearLROptions o_;
};

// Cosine from the base rate down to eta_min over T_max epochs (and back up after, periodically):
// lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.
struct CosineAnnealingLROptions {
  std::int64_t T_max = 10;
  double eta_min = 0.0;
};
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);

 protected:
  std::vector<double> compute_lrs() override;
  std::vector<double> closed_form_lrs() override;

 private:
  CosineAnnealingLROptions o_;
};

// The seed notebooks' rule: from the optimizer's rate at epoch 0 to final_lr at epoch
// epochs - 1, linearly (lr -= (initial - final) / (epochs - 1) per epoch) or exponentially
// (lr *= (final / initial)^(1 / (epochs - 1)) per epoch), then held. Computed in closed form,
// so there is no drift over many epochs.
enum class Decay { Linear, Exponential };
struct DecayLROptions {
  double final_lr = 0.0;
  std::int64_t epochs = 10;
  Decay decay = Decay::Exponential;
};
class DecayLR : public LRScheduler {
 public:
  DecayLR(Optimizer& optimizer, const DecayLROptions& options);

 protected:
  std::vector<double> compute_lrs() override;

 private:
  DecayLROptions o_;
};

// Multiplies the rate by factor when the metric has not improved for more than `patience`
// epochs; then waits `cooldown` epochs before counting again. Rates never go below min_lr, and
// changes smaller than eps are skipped.
enum class PlateauMode { Min, Max };
enum class ThresholdMode { Rel, Abs };
struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::Min;
  double factor = 0.1;
  std::int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  std::int64_t cooldown = 0;
  double min_lr = 0.0;
  double eps = 1e-8;
};
// Not an LRScheduler (as in PyTorch 1.13): it has only step(metric).
class ReduceLROnPlateau : public Scheduler {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  // Records this epoch's metric (e.g. validation loss) and reduces the rate on a plateau.
  void step(double metric);
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }

  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lrs() override;

 private:
  bool is_better(double a, double best) const;
  ReduceLROnPlateauOptions o_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
};

// Runs schedulers[0] until epoch milestones[0], then schedulers[1] (restarted at its epoch 0)
// until milestones[1], and so on (PyTorch's SequentialLR). Construction resets the rates to
// initial_lr, undoes the other schedulers' construction step and redoes the first one's.
// The schedulers must be made on `optimizer` before this and outlive it (a ReduceLROnPlateau is
// not an LRScheduler, so it cannot be passed). Milestones must increase strictly and be positive.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer,
               std::initializer_list<std::reference_wrapper<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  void step() override;
  // last_epoch, last_lrs, milestones, and each scheduler's state as "schedulers.<i>.<key>".
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lrs() override { return current_lrs(); }

 private:
  std::vector<LRScheduler*> schedulers_;
  std::vector<std::int64_t> milestones_;
};

// Steps every scheduler, in order, at each step() (PyTorch's ChainedScheduler): their chainable
// updates multiply. Construction changes nothing. Same requirements as SequentialLR.
class ChainedScheduler : public LRScheduler {
 public:
  explicit ChainedScheduler(std::initializer_list<std::reference_wrapper<LRScheduler>> schedulers);
  void step() override;
  // last_lrs, and each scheduler's state as "schedulers.<i>.<key>".
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lrs() override { return current_lrs(); }

 private:
  std::vector<LRScheduler*> schedulers_;
};

}  // namespace tg::optim
