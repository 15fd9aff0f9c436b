#include "tapegrad/optim/early_stopping.h"

#include <cmath>

#include "tapegrad/core/error.h"
#include "tapegrad/core/grad_mode.h"

namespace tg::optim {

namespace {

// A deep copy: state_dict() shares storage with the module, and training goes on after this.
StateDict snapshot(const nn::Module& module) {
  NoGradGuard no_grad;
  StateDict out;
  for (const auto& [name, t] : module.state_dict()) out.emplace(name, t.clone());
  return out;
}

}  // namespace

EarlyStopping::EarlyStopping(nn::Module& module, const EarlyStoppingOptions& options)
    : module_(module), options_(options) {
  TG_CHECK(options_.eval_every >= 1, "EarlyStopping: eval_every must be >= 1, got ",
           options_.eval_every);
  TG_CHECK(options_.patience >= 1, "EarlyStopping: patience must be >= 1, got ", options_.patience);
  TG_CHECK(std::isfinite(options_.min_delta) && options_.min_delta >= 0.0,
           "EarlyStopping: min_delta must be finite and >= 0, got ", options_.min_delta);
}

bool EarlyStopping::should_evaluate(std::int64_t epoch) const {
  return epoch >= 1 && epoch % options_.eval_every == 0;
}

bool EarlyStopping::step(std::int64_t epoch, double val_loss) {
  TG_CHECK(!stopped_, "EarlyStopping::step: training already stopped at epoch ", stopped_epoch_);
  TG_CHECK(epoch > last_epoch_, "EarlyStopping::step: epoch ", epoch,
           " does not follow the last evaluated epoch ", last_epoch_);
  last_epoch_ = epoch;
  // Written so that NaN compares false: a diverged loss is never an improvement.
  if (val_loss < best_loss_ - options_.min_delta) {
    best_loss_ = val_loss;
    best_epoch_ = epoch;
    best_state_ = snapshot(module_);
    bad_evaluations_ = 0;
    return false;
  }
  if (++bad_evaluations_ < options_.patience) return false;
  stopped_ = true;
  stopped_epoch_ = epoch;
  if (options_.restore_best) restore();
  return true;
}

void EarlyStopping::restore() {
  if (best_state_.empty()) return;
  module_.load_state_dict(best_state_, /*strict=*/true);
}

}  // namespace tg::optim
