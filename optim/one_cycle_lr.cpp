#include "tapegrad/optim/one_cycle_lr.h"

#include <cmath>
#include <numbers>

#include "tapegrad/core/error.h"
#include "tapegrad/optim/adam.h"
#include "tapegrad/optim/rmsprop.h"
#include "tapegrad/optim/sgd.h"

namespace tg::optim {

namespace {
// The momentum-like option of a group (SGD / RMSprop momentum, Adam / AdamW beta1), or false
// when the optimizer has none.
bool set_momentum(Optimizer& opt, std::size_t g, double m) {
  if (auto* o = dynamic_cast<SGD*>(&opt)) {
    o->param_groups().at(g).options.momentum = m;
    return true;
  }
  if (auto* o = dynamic_cast<RMSprop*>(&opt)) {
    o->param_groups().at(g).options.momentum = m;
    return true;
  }
  if (auto* o = dynamic_cast<Adam*>(&opt)) {
    o->param_groups().at(g).options.betas.first = m;
    return true;
  }
  if (auto* o = dynamic_cast<AdamW*>(&opt)) {
    o->param_groups().at(g).options.betas.first = m;
    return true;
  }
  return false;
}
}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, const OneCycleLROptions& options)
    : OneCycleLR(optimizer, std::vector<double>(optimizer.num_param_groups(), max_lr), options) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs,
                       const OneCycleLROptions& options)
    : LRScheduler(optimizer), o_(options), max_lrs_(std::move(max_lrs)) {
  const char* op = "OneCycleLR";
  TG_CHECK(max_lrs_.size() == optimizer.num_param_groups(), op, ": expected ",
           optimizer.num_param_groups(), " max_lr values (one per parameter group), got ",
           max_lrs_.size());
  if (o_.total_steps > 0) {
    total_steps_ = o_.total_steps;
  } else {
    TG_CHECK(o_.total_steps == 0, op, ": total_steps must be positive, got ", o_.total_steps);
    TG_CHECK(o_.epochs > 0 && o_.steps_per_epoch > 0, op,
             ": give total_steps, or epochs and steps_per_epoch (both positive), got epochs=",
             o_.epochs, ", steps_per_epoch=", o_.steps_per_epoch);
    total_steps_ = o_.epochs * o_.steps_per_epoch;
  }
  TG_CHECK(o_.pct_start >= 0.0 && o_.pct_start <= 1.0, op, ": pct_start must be in [0, 1], got ",
           o_.pct_start);
  TG_CHECK(o_.div_factor > 0.0 && o_.final_div_factor > 0.0, op,
           ": div_factor and final_div_factor must be positive, got ", o_.div_factor, " and ",
           o_.final_div_factor);
  const double n = static_cast<double>(total_steps_);
  if (o_.three_phase)
    phases_ = {{o_.pct_start * n - 1, 0, 1}, {2 * o_.pct_start * n - 2, 1, 0}, {n - 1, 0, 2}};
  else
    phases_ = {{o_.pct_start * n - 1, 0, 1}, {n - 1, 1, 2}};
  for (std::size_t g = 0; g < max_lrs_.size(); ++g) {
    optimizer.set_initial_lr(g, max_lrs_[g] / o_.div_factor);
    base_lrs_[g] = max_lrs_[g] / o_.div_factor;
    if (o_.cycle_momentum)
      TG_CHECK(set_momentum(optimizer, g, o_.max_momentum), op,
               ": cycle_momentum needs an optimizer with momentum (SGD, RMSprop) or betas (Adam, "
               "AdamW); pass cycle_momentum = false");
  }
  initialize();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == AnnealStrategy::Linear) return (end - start) * pct + start;
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

std::vector<double> OneCycleLR::compute_lrs() {
  TG_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: tried to step ", last_epoch_,
           " times; the specified number of total steps is ", total_steps_);
  const double step = static_cast<double>(last_epoch_);
  std::vector<double> lrs;
  for (std::size_t g = 0; g < max_lrs_.size(); ++g) {
    const double initial = base_lrs_[g];
    const double rates[3] = {initial, max_lrs_[g], initial / o_.final_div_factor};
    // Momentum is high where the rate is low: initial and min rates go with max_momentum.
    auto momentum = [&](int which) { return which == 1 ? o_.base_momentum : o_.max_momentum; };
    double start_step = 0.0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
      const Phase& p = phases_[i];
      if (step <= p.end_step || i + 1 == phases_.size()) {
        const double pct = (step - start_step) / (p.end_step - start_step);
        lrs.push_back(anneal(rates[p.start], rates[p.end], pct));
        if (o_.cycle_momentum)
          set_momentum(optimizer_, g, anneal(momentum(p.start), momentum(p.end), pct));
        break;
      }
      start_step = p.end_step;
    }
  }
  return lrs;
}

}  // namespace tg::optim
