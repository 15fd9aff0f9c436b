#pragma once
// Early stopping with best-model restore (the rule of the fourth seed notebook's trainer):
// evaluate every `eval_every` epochs; while the validation loss keeps falling, keep a deep copy
// of the model's state dict; once it has failed to fall for `patience` evaluations in a row,
// load the best copy back into the model and stop.
//
//   optim::EarlyStopping stopper(net, {.eval_every = 5});
//   for (std::int64_t epoch = 1; epoch <= epochs; ++epoch) {
//     train_one_epoch();
//     if (stopper.should_evaluate(epoch) && stopper.step(epoch, validation_loss())) break;
//   }
//   // net now holds the weights of stopper.best_epoch() (also when the loop ran out)
//   stopper.restore();
//
// The snapshot holds parameters and persistent buffers (batch-norm running statistics), cloned,
// and restore() copies them into the module's own tensors, so the handles an optimizer holds stay
// valid. Optimizer state is not part of the snapshot.
#include <cstdint>
#include <limits>

#include "tapegrad/core/state_dict.h"
#include "tapegrad/nn/module.h"

namespace tg::optim {

struct EarlyStoppingOptions {
  std::int64_t eval_every = 1;  // evaluate after epochs eval_every, 2 * eval_every, ...
  // Evaluations in a row without improvement that stop training; 1 stops at the first rise
  // (the seed notebook's rule).
  std::int64_t patience = 1;
  // An evaluation improves only when loss < best - min_delta.
  double min_delta = 0.0;
  bool restore_best = true;  // load the best weights back when stopping
};

class EarlyStopping {
 public:
  explicit EarlyStopping(nn::Module& module, const EarlyStoppingOptions& options = {});

  // Whether epoch (counted from 1) is an evaluation epoch.
  bool should_evaluate(std::int64_t epoch) const;
  // Records the validation loss measured after `epoch` (epochs must increase). Returns true when
  // training should stop; the best weights are then already restored (unless restore_best is
  // off). A NaN loss never counts as an improvement. Calling it after a stop is an error.
  bool step(std::int64_t epoch, double val_loss);
  // Loads the best snapshot into the module (no-op before the first evaluation).
  void restore();

  bool stopped() const { return stopped_; }
  // +inf and 0 before the first evaluation.
  double best_loss() const { return best_loss_; }
  std::int64_t best_epoch() const { return best_epoch_; }
  std::int64_t stopped_epoch() const { return stopped_epoch_; }  // 0 while running
  std::int64_t bad_evaluations() const { return bad_evaluations_; }
  const StateDict& best_state() const { return best_state_; }
  const EarlyStoppingOptions& options() const { return options_; }

 private:
  nn::Module& module_;
  EarlyStoppingOptions options_;
  StateDict best_state_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  std::int64_t best_epoch_ = 0;
  std::int64_t last_epoch_ = 0;
  std::int64_t stopped_epoch_ = 0;
  std::int64_t bad_evaluations_ = 0;
  bool stopped_ = false;
};

}  // namespace tg::optim
