#include "tapegrad/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "tapegrad/core/error.h"

namespace tg::optim {
namespace {

Tensor doubles(const std::vector<double>& v) {
  return from_vector(v, {static_cast<std::int64_t>(v.size())});
}

const Tensor& require(const StateDict& state, const std::string& key, const char* op) {
  const auto it = state.find(key);
  TG_CHECK(it != state.end() && it->second.defined(), op, ": missing key '", key, "'");
  return it->second;
}

std::vector<double> read_doubles(const StateDict& state, const std::string& key, std::size_t n,
                                 const char* op) {
  const Tensor& t = require(state, key, op);
  TG_CHECK(t.dtype() == kFloat64 && t.dim() == 1 && t.size(0) == static_cast<std::int64_t>(n), op,
           ": '", key, "' must be a float64 tensor of shape [", n, "] (one per parameter group), ",
           "got ", t.dtype(), " ", shape_str(t.shape()));
  return t.to_vector<double>();
}

std::int64_t read_int(const StateDict& state, const std::string& key, const char* op) {
  const Tensor& t = require(state, key, op);
  TG_CHECK(t.dtype() == kInt64 && t.dim() == 0, op, ": '", key,
           "' must be a 0-dim int64 tensor, got ", t.dtype(), " ", shape_str(t.shape()));
  return t.item<std::int64_t>();
}

double read_double(const StateDict& state, const std::string& key, const char* op) {
  const Tensor& t = require(state, key, op);
  TG_CHECK(t.dtype() == kFloat64 && t.dim() == 0, op, ": '", key,
           "' must be a 0-dim float64 tensor, got ", t.dtype(), " ", shape_str(t.shape()));
  return t.item<double>();
}

void check_keys(const StateDict& state, std::initializer_list<const char*> keys, const char* op) {
  for (const auto& entry : state) {
    const std::string& k = entry.first;  // a plain name: clang 14 cannot capture a binding
    TG_CHECK(std::any_of(keys.begin(), keys.end(), [&](const char* want) { return k == want; }), op,
             ": unexpected key '", k, "'");
  }
}

Tensor int_scalar(std::int64_t v) { return from_blob(&v, {}, kInt64); }

}  // namespace

// ---- base ----

Scheduler::Scheduler(Optimizer& optimizer, bool uses_initial_lr)
    : optimizer_(optimizer), uses_initial_lr_(uses_initial_lr) {
  base_lrs_ = current_lrs();
  if (!uses_initial_lr) return;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
    if (!optimizer_.initial_lr(g)) optimizer_.set_initial_lr(g, base_lrs_[g]);
    base_lrs_[g] = *optimizer_.initial_lr(g);
  }
}

std::vector<double> Scheduler::current_lrs() const {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
  return lrs;
}

void Scheduler::check_groups() const {
  TG_CHECK(base_lrs_.size() == optimizer_.num_param_groups(), "LRScheduler: the optimizer has ",
           optimizer_.num_param_groups(), " parameter groups but the scheduler knows ",
           base_lrs_.size(), " (groups added after the scheduler was made?)");
}

void Scheduler::apply(const std::vector<double>& lrs) {
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(g, lrs[g]);
  last_lrs_ = lrs;
}

void Scheduler::initialize() {
  last_epoch_ = 0;
  apply(compute_lrs());
}

void LRScheduler::step() {
  check_groups();
  ++last_epoch_;
  apply(compute_lrs());
}

StateDict Scheduler::state_dict() const {
  return {{"last_epoch", int_scalar(last_epoch_)},
          {"base_lrs", doubles(base_lrs_)},
          {"last_lrs", doubles(last_lrs_)}};
}

void Scheduler::load_state_dict(const StateDict& state) {
  const char* op = "LRScheduler::load_state_dict";
  check_keys(state, {"last_epoch", "base_lrs", "last_lrs"}, op);
  const std::size_t n = optimizer_.num_param_groups();
  auto epoch = read_int(state, "last_epoch", op);
  auto base = read_doubles(state, "base_lrs", n, op);
  auto last = read_doubles(state, "last_lrs", n, op);
  last_epoch_ = epoch;
  base_lrs_ = std::move(base);
  last_lrs_ = std::move(last);
  if (uses_initial_lr_)  // what PyTorch restores with the optimizer's param_groups
    for (std::size_t g = 0; g < n; ++g) optimizer_.set_initial_lr(g, base_lrs_[g]);
}

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  TG_CHECK(o_.step_size >= 1, "StepLR: step_size must be at least 1, got ", o_.step_size);
  TG_CHECK(o_.gamma >= 0.0, "StepLR: gamma must be non-negative, got ", o_.gamma);
  initialize();
}

std::vector<double> StepLR::compute_lrs() {
  auto lrs = current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % o_.step_size != 0) return lrs;
  for (auto& lr : lrs) lr *= o_.gamma;
  return lrs;
}

std::vector<double> StepLR::closed_form_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * std::pow(o_.gamma, static_cast<double>(last_epoch_ / o_.step_size)));
  return lrs;
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  TG_CHECK(o_.gamma >= 0.0, "ExponentialLR: gamma must be non-negative, got ", o_.gamma);
  initialize();
}

std::vector<double> ExponentialLR::compute_lrs() {
  auto lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  for (auto& lr : lrs) lr *= o_.gamma;
  return lrs;
}

std::vector<double> ExponentialLR::closed_form_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * std::pow(o_.gamma, static_cast<double>(last_epoch_)));
  return lrs;
}

// ---- ConstantLR ----

ConstantLR::ConstantLR(Optimizer& optimizer, const ConstantLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  TG_CHECK(o_.factor > 0.0 && o_.factor <= 1.0, "ConstantLR: factor must be in (0, 1], got ",
           o_.factor);
  TG_CHECK(o_.total_iters >= 0, "ConstantLR: total_iters must be non-negative, got ",
           o_.total_iters);
  initialize();
}

std::vector<double> ConstantLR::compute_lrs() {
  auto lrs = current_lrs();
  if (last_epoch_ == 0)
    for (auto& lr : lrs) lr *= o_.factor;
  else if (last_epoch_ == o_.total_iters)
    for (auto& lr : lrs) lr *= 1.0 / o_.factor;
  return lrs;
}

std::vector<double> ConstantLR::closed_form_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * (last_epoch_ >= o_.total_iters ? 1.0 : o_.factor));
  return lrs;
}

// ---- LinearLR ----

LinearLR::LinearLR(Optimizer& optimizer, const LinearLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  TG_CHECK(o_.start_factor > 0.0 && o_.start_factor <= 1.0,
           "LinearLR: start_factor must be in (0, 1], got ", o_.start_factor);
  TG_CHECK(o_.end_factor >= 0.0 && o_.end_factor <= 1.0,
           "LinearLR: end_factor must be in [0, 1], got ", o_.end_factor);
  TG_CHECK(o_.total_iters >= 1, "LinearLR: total_iters must be at least 1, got ", o_.total_iters);
  initialize();
}

std::vector<double> LinearLR::compute_lrs() {
  auto lrs = current_lrs();
  if (last_epoch_ == 0) {
    for (auto& lr : lrs) lr *= o_.start_factor;
    return lrs;
  }
  if (last_epoch_ > o_.total_iters) return lrs;
  // The ratio of this epoch's factor to the previous one (PyTorch's chainable form).
  const double delta = o_.end_factor - o_.start_factor;
  const double ratio = 1.0 + delta / (static_cast<double>(o_.total_iters) * o_.start_factor +
                                      static_cast<double>(last_epoch_ - 1) * delta);
  for (auto& lr : lrs) lr *= ratio;
  return lrs;
}

std::vector<double> LinearLR::closed_form_lrs() {
  const double t = static_cast<double>(std::min(last_epoch_, o_.total_iters)) /
                   static_cast<double>(o_.total_iters);
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * (o_.start_factor + (o_.end_factor - o_.start_factor) * t));
  return lrs;
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  TG_CHECK(o_.T_max >= 1, "CosineAnnealingLR: T_max must be at least 1, got ", o_.T_max);
  initialize();
}

std::vector<double> CosineAnnealingLR::compute_lrs() {
  auto lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  const double pi = std::numbers::pi, T = static_cast<double>(o_.T_max);
  const double e = static_cast<double>(last_epoch_);
  const std::int64_t period = 2 * o_.T_max;
  const std::int64_t phase = ((last_epoch_ - 1 - o_.T_max) % period + period) % period;
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    if (phase == 0) {  // the bottom of a period: step back up
      lrs[g] += (base_lrs_[g] - o_.eta_min) * (1.0 - std::cos(pi / T)) / 2.0;
    } else {
      lrs[g] = (1.0 + std::cos(pi * e / T)) / (1.0 + std::cos(pi * (e - 1.0) / T)) *
                   (lrs[g] - o_.eta_min) +
               o_.eta_min;
    }
  }
  return lrs;
}

std::vector<double> CosineAnnealingLR::closed_form_lrs() {
  const double pi = std::numbers::pi, T = static_cast<double>(o_.T_max);
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(o_.eta_min + (base - o_.eta_min) *
                                   (1.0 + std::cos(pi * static_cast<double>(last_epoch_) / T)) /
                                   2.0);
  return lrs;
}

// ---- DecayLR ----

DecayLR::DecayLR(Optimizer& optimizer, const DecayLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  TG_CHECK(o_.epochs >= 2, "DecayLR: epochs must be at least 2, got ", o_.epochs);
  TG_CHECK(o_.final_lr >= 0.0, "DecayLR: final_lr must be non-negative, got ", o_.final_lr);
  if (o_.decay == Decay::Exponential) {
    TG_CHECK(o_.final_lr > 0.0, "DecayLR: exponential decay needs final_lr > 0, got ", o_.final_lr,
             " (use Decay::Linear to reach 0)");
    for (double lr : base_lrs_)
      TG_CHECK(lr > 0.0, "DecayLR: exponential decay needs a positive initial rate, got ", lr);
  }
  initialize();
}

std::vector<double> DecayLR::compute_lrs() {
  std::vector<double> lrs;
  const std::int64_t last = o_.epochs - 1;
  const double t = static_cast<double>(std::min(last_epoch_, last)) / static_cast<double>(last);
  for (double base : base_lrs_) {
    if (last_epoch_ >= last)
      lrs.push_back(o_.final_lr);
    else if (o_.decay == Decay::Linear)
      lrs.push_back((1.0 - t) * base + t * o_.final_lr);
    else
      lrs.push_back(base * std::pow(o_.final_lr / base, t));
  }
  return lrs;
}

// ---- ReduceLROnPlateau ----

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : Scheduler(optimizer, /*uses_initial_lr=*/false), o_(options) {
  TG_CHECK(o_.factor >= 0.0 && o_.factor < 1.0, "ReduceLROnPlateau: factor must be in [0, 1), got ",
           o_.factor);
  TG_CHECK(o_.patience >= 0, "ReduceLROnPlateau: patience must be non-negative, got ", o_.patience);
  TG_CHECK(o_.cooldown >= 0, "ReduceLROnPlateau: cooldown must be non-negative, got ", o_.cooldown);
  TG_CHECK(o_.threshold >= 0.0, "ReduceLROnPlateau: threshold must be non-negative, got ",
           o_.threshold);
  const double inf = std::numeric_limits<double>::infinity();
  best_ = o_.mode == PlateauMode::Min ? inf : -inf;
  initialize();
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool rel = o_.threshold_mode == ThresholdMode::Rel;
  if (o_.mode == PlateauMode::Min)
    return a < (rel ? best * (1.0 - o_.threshold) : best - o_.threshold);
  return a > (rel ? best * (1.0 + o_.threshold) : best + o_.threshold);
}

std::vector<double> ReduceLROnPlateau::compute_lrs() { return current_lrs(); }

void ReduceLROnPlateau::step(double metric) {
  check_groups();
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  auto lrs = current_lrs();
  if (num_bad_epochs_ > o_.patience) {
    for (auto& lr : lrs) {
      const double reduced = std::max(lr * o_.factor, o_.min_lr);
      if (lr - reduced > o_.eps) lr = reduced;
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
  apply(lrs);
}

StateDict ReduceLROnPlateau::state_dict() const {
  StateDict s = Scheduler::state_dict();
  s["best"] = scalar_tensor(best_, kFloat64);
  s["num_bad_epochs"] = int_scalar(num_bad_epochs_);
  s["cooldown_counter"] = int_scalar(cooldown_counter_);
  return s;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& state) {
  const char* op = "ReduceLROnPlateau::load_state_dict";
  check_keys(state,
             {"last_epoch", "base_lrs", "last_lrs", "best", "num_bad_epochs", "cooldown_counter"},
             op);
  const double best = read_double(state, "best", op);
  const auto bad = read_int(state, "num_bad_epochs", op);
  const auto cool = read_int(state, "cooldown_counter", op);
  StateDict base;
  for (const char* k : {"last_epoch", "base_lrs", "last_lrs"})
    if (state.count(k)) base.emplace(k, state.at(k));
  Scheduler::load_state_dict(base);
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cool;
}

// ---- SequentialLR and ChainedScheduler ----

namespace {

std::vector<LRScheduler*> collect(const char* op, const Optimizer& optimizer,
                                  std::initializer_list<std::reference_wrapper<LRScheduler>> list) {
  TG_CHECK(list.size() > 0, op, ": needs at least one scheduler");
  std::vector<LRScheduler*> out;
  for (const auto& ref : list) {
    LRScheduler& s = ref.get();
    TG_CHECK(&s.optimizer() == &optimizer, op, ": scheduler ", out.size(),
             " belongs to a different optimizer than the others");
    for (const LRScheduler* seen : out)
      TG_CHECK(seen != &s, op, ": scheduler ", out.size(), " is listed twice");
    out.push_back(&s);
  }
  return out;
}

// The children's states under "schedulers.<i>.".
void add_children(StateDict& out, const std::vector<LRScheduler*>& schedulers) {
  for (std::size_t i = 0; i < schedulers.size(); ++i)
    for (const auto& [k, v] : schedulers[i]->state_dict())
      out["schedulers." + std::to_string(i) + "." + k] = v;
}

// Splits a composite's state into its own keys (returned) and each child's (in `children`);
// refuses keys of children that do not exist.
StateDict split_children(const StateDict& state, std::size_t n, std::vector<StateDict>& children,
                         const char* op) {
  StateDict own;
  children.assign(n, {});
  for (const auto& [k, v] : state) {
    if (!k.starts_with("schedulers.")) {
      own.emplace(k, v);
      continue;
    }
    const std::string rest = k.substr(std::string("schedulers.").size());
    const auto dot = rest.find('.');
    std::size_t i = n;
    if (dot != std::string::npos && dot > 0 && rest.find_first_not_of("0123456789") == dot)
      i = static_cast<std::size_t>(std::stoull(rest.substr(0, dot)));
    TG_CHECK(i < n, op, ": unexpected key '", k, "' (", n, " schedulers)");
    children[i].emplace(rest.substr(dot + 1), v);
  }
  return own;
}

// Loads each child's state; if one refuses, restores the children already loaded and calls
// undo_own, so a bad state dict changes nothing.
template <typename Undo>
void load_children(const std::vector<LRScheduler*>& schedulers,
                   const std::vector<StateDict>& children, Undo undo_own) {
  std::vector<StateDict> before;
  for (const LRScheduler* s : schedulers) before.push_back(s->state_dict());
  std::size_t i = 0;
  try {
    for (; i < schedulers.size(); ++i) schedulers[i]->load_state_dict(children[i]);
  } catch (...) {
    for (std::size_t j = 0; j < i; ++j) schedulers[j]->load_state_dict(before[j]);
    undo_own();
    throw;
  }
}

}  // namespace

SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::initializer_list<std::reference_wrapper<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer),
      schedulers_(collect("SequentialLR", optimizer, schedulers)),
      milestones_(std::move(milestones)) {
  TG_CHECK(milestones_.size() + 1 == schedulers_.size(), "SequentialLR: expected ",
           schedulers_.size() - 1, " milestones (one fewer than the ", schedulers_.size(),
           " schedulers), got ", milestones_.size());
  for (std::size_t i = 0; i < milestones_.size(); ++i)
    TG_CHECK(milestones_[i] >= 1 && (i == 0 || milestones_[i] > milestones_[i - 1]),
             "SequentialLR: milestones must be positive and strictly increasing, got ",
             milestones_[i], " at index ", i);
  // As PyTorch: back to the initial rates, undo every scheduler's construction step, then redo
  // only the first one's.
  apply(base_lrs_);
  for (LRScheduler* s : schedulers_) --s->last_epoch_;
  schedulers_[0]->step();
  last_epoch_ = 0;
  last_lrs_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  check_groups();
  ++last_epoch_;
  const auto idx = static_cast<std::size_t>(
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    s.check_groups();  // PyTorch's step(0): restart at epoch 0 in closed form
    s.last_epoch_ = 0;
    s.apply(s.closed_form_lrs());
  } else {
    s.step();
  }
  last_lrs_ = s.get_last_lr();
}

StateDict SequentialLR::state_dict() const {
  StateDict out = Scheduler::state_dict();
  out["milestones"] = from_vector(milestones_, {static_cast<std::int64_t>(milestones_.size())});
  add_children(out, schedulers_);
  return out;
}

void SequentialLR::load_state_dict(const StateDict& state) {
  const char* op = "SequentialLR::load_state_dict";
  std::vector<StateDict> children;
  StateDict own = split_children(state, schedulers_.size(), children, op);
  const auto it = own.find("milestones");
  TG_CHECK(it != own.end() && it->second.defined(), op, ": missing key 'milestones'");
  const Tensor m = it->second;
  TG_CHECK(m.dtype() == kInt64 && m.dim() == 1 && m.size(0) == std::ssize(milestones_), op,
           ": 'milestones' must be an int64 tensor of shape [", milestones_.size(), "], got ",
           m.dtype(), " ", shape_str(m.shape()));
  own.erase("milestones");
  const StateDict own_before = Scheduler::state_dict();
  Scheduler::load_state_dict(own);
  load_children(schedulers_, children, [&] { Scheduler::load_state_dict(own_before); });
  milestones_ = m.to_vector<std::int64_t>();
}

namespace {
Optimizer& first_optimizer(std::initializer_list<std::reference_wrapper<LRScheduler>> list) {
  TG_CHECK(list.size() > 0, "ChainedScheduler: needs at least one scheduler");
  return const_cast<Optimizer&>(list.begin()->get().optimizer());
}
}  // namespace

ChainedScheduler::ChainedScheduler(
    std::initializer_list<std::reference_wrapper<LRScheduler>> schedulers)
    : LRScheduler(first_optimizer(schedulers)),
      schedulers_(collect("ChainedScheduler", optimizer_, schedulers)) {
  last_lrs_ = current_lrs();
}

void ChainedScheduler::step() {
  check_groups();
  ++last_epoch_;
  for (LRScheduler* s : schedulers_) s->step();
  last_lrs_ = current_lrs();
}

StateDict ChainedScheduler::state_dict() const {
  StateDict out = Scheduler::state_dict();
  add_children(out, schedulers_);
  return out;
}

void ChainedScheduler::load_state_dict(const StateDict& state) {
  const char* op = "ChainedScheduler::load_state_dict";
  std::vector<StateDict> children;
  const StateDict own = split_children(state, schedulers_.size(), children, op);
  const StateDict own_before = Scheduler::state_dict();
  Scheduler::load_state_dict(own);
  load_children(schedulers_, children, [&] { Scheduler::load_state_dict(own_before); });
}

}  // namespace tg::optim
