#pragma once
// optim::Optimizer: parameter groups, each with its own options, and per-parameter state.
//
//   optim::SGD opt(net.parameters(), {.lr = 0.1, .momentum = 0.9});
//   optim::Adam opt({{net.fc1.parameters(), {.lr = 1e-3}},      // one group per entry
//                    {net.fc2.parameters(), {.lr = 1e-4}}});
//   opt.zero_grad(); loss.backward(); opt.step();
//
// The optimizer holds the same tensor handles as the module, and step() updates them in place
// under no_grad, one fused pass over each parameter (split over threads for large ones).
//
// state_dict() flattens the optimizer into tensors so a checkpoint can hold it:
//   param_groups.<g>.params   int64 [n]: global indices of the group's parameters
//   param_groups.<g>.<option> float64 scalar (bools as uint8 scalars)
//   state.<i>.<field>         per-parameter state of parameter i (steps as int64 scalars)
// load_state_dict() checks everything (group layout, field names, shapes, dtypes) before
// changing anything.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/core/dtype.h"
#include "tapegrad/core/grad_mode.h"
#include "tapegrad/core/state_dict.h"
#include "tapegrad/core/threading.h"

namespace tg::optim {

class Optimizer {
 public:
  Optimizer() = default;
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  // Evaluates `closure` (which should zero grads, compute the loss and call backward) with grad
  // mode on, then steps; returns the loss.
  Tensor step(const std::function<Tensor()>& closure);
  // Drops every parameter's .grad (set_to_none), or zeroes it in place.
  void zero_grad(bool set_to_none = true);

  virtual std::size_t num_param_groups() const = 0;
  virtual const std::vector<Tensor>& params(std::size_t group) const = 0;
  std::vector<Tensor> parameters() const;  // every group's, in order
  // Learning rate of one group; set_lr(lr) sets every group's (schedulers use these).
  virtual double lr(std::size_t group = 0) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;
  void set_lr(double lr);

  virtual StateDict state_dict() const = 0;
  virtual void load_state_dict(const StateDict& state) = 0;

  // A group's 'initial_lr' (PyTorch's group['initial_lr']): set by the first LR scheduler made
  // on this optimizer; every scheduler reads its base rates from it. Not part of state_dict().
  std::optional<double> initial_lr(std::size_t group) const {
    return group < initial_lrs_.size() ? initial_lrs_[group] : std::nullopt;
  }
  void set_initial_lr(std::size_t group, double lr) {
    if (initial_lrs_.size() <= group) initial_lrs_.resize(group + 1);
    initial_lrs_[group] = lr;
  }

 private:
  std::vector<std::optional<double>> initial_lrs_;
};

namespace detail {

// Helpers shared by the optimizers (optimizer.cpp).
void check_params(const std::vector<Tensor>& existing, const std::vector<Tensor>& added);
Tensor scalar_of(double v);
Tensor scalar_of(bool v);
Tensor scalar_of(std::int64_t v);
// Reads a scalar state-dict entry into v, checking its dtype and size.
void read_scalar(const std::string& key, const Tensor& t, double& v);
void read_scalar(const std::string& key, const Tensor& t, bool& v);
void read_scalar(const std::string& key, const Tensor& t, std::int64_t& v);
// A state tensor for `param` read from `t`: same shape, converted to the param's dtype, own copy.
Tensor read_state_tensor(const std::string& key, const Tensor& t, const Tensor& param);
// The gradient to apply to p (undefined when p has none), contiguous, checked against p.
Tensor grad_of(const char* op, const Tensor& p);
// State tensors must still match their parameter (a module converted with to(dtype) after the
// optimizer was made would not).
void check_state(const char* op, const Tensor& p, std::initializer_list<Tensor> state);
[[noreturn]] void throw_bad_keys(const char* op, const std::vector<std::string>& missing,
                                 const std::vector<std::string>& unexpected);

// Calls f(std::true_type{}) or f(std::false_type{}): an option tested inside an update loop
// becomes a compile-time constant, so each variant's loop has no branches and vectorizes.
template <typename F>
void with_flag(bool flag, F&& f) {
  if (flag)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// Elements per task of an optimizer update. An update reads and writes a few arrays the size of
// the parameter, which sit in the cache of the core that ran the step; a second core would have
// to pull its half over and hand it back before the next forward. Splitting the 784-89-10 net's
// 70K-weight layer at 32K made its epochs slower on 2 threads than on 1; parameters of 1 MiB
// and more are still split.
inline constexpr std::int64_t kUpdateGrain = std::int64_t{1} << 18;

// Runs body(w, g, begin, end) over chunks of p's elements, where w and g point at p's and the
// gradient's data as T (p's float type). Non-contiguous parameters are updated through a
// contiguous copy written back after. Bumps p's version counter (it changed in place).
template <typename Body>
void update_param(const Tensor& p, const Tensor& g, Body&& body) {
  Tensor w = p.is_contiguous() ? p : p.contiguous();
  dispatch_floating(p.dtype(), "optimizer step", [&]<typename T>() {
    T* wd = w.data_ptr<T>();
    const T* gd = g.data_ptr<T>();
    tg::detail::parallel_for(p.numel(), kUpdateGrain,
                             [&](std::int64_t b, std::int64_t e) { body(wd, gd, b, e); });
  });
  if (!w.is_same(p)) {
    Tensor target = p;
    target.copy_(w);
  } else {
    p.bump_version();
  }
}

}  // namespace detail

// The typed part of every optimizer: Options is the aggregate of hyperparameters (with
// validate() and for_each_field()), State the per-parameter state (with for_each_field()).
template <typename Options, typename State>
class OptimizerWith : public Optimizer {
 public:
  struct ParamGroup {
    std::vector<Tensor> params;
    Options options;
  };

  // Adds parameters (none may already be in a group) with their own options.
  void add_param_group(std::vector<Tensor> params, const Options& options) {
    options.validate();
    detail::check_params(parameters(), params);
    state_.emplace_back(params.size());
    groups_.push_back({std::move(params), options});
  }
  void add_param_group(std::vector<Tensor> params) {
    add_param_group(std::move(params), defaults_);
  }

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }
  // p's per-parameter state (PyTorch's optimizer.state[p]), created by the first step that
  // updates p: null before that, or when p is not one of this optimizer's parameters.
  const State* state(const Tensor& p) const {
    for (std::size_t g = 0; g < groups_.size() && g < state_.size(); ++g)
      for (std::size_t i = 0; i < groups_[g].params.size() && i < state_[g].size(); ++i)
        if (groups_[g].params[i].is_same(p)) return state_[g][i] ? &*state_[g][i] : nullptr;
    return nullptr;
  }

  std::size_t num_param_groups() const override { return groups_.size(); }
  const std::vector<Tensor>& params(std::size_t group) const override {
    return groups_.at(group).params;
  }
  double lr(std::size_t group = 0) const override { return groups_.at(group).options.lr; }
  void set_lr(std::size_t group, double lr) override {
    TG_CHECK(lr >= 0.0, "set_lr: learning rate must be non-negative, got ", lr);
    groups_.at(group).options.lr = lr;
  }
  using Optimizer::set_lr;

  StateDict state_dict() const override {
    StateDict out;
    std::int64_t index = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const std::string prefix = "param_groups." + std::to_string(g) + ".";
      std::vector<std::int64_t> ids;
      for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
        if (g < state_.size() && i < state_[g].size() && state_[g][i]) {
          State s = *state_[g][i];
          const std::string sp = "state." + std::to_string(index) + ".";
          s.for_each_field([&](const char* name, auto& v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, Tensor>) {
              if (v.defined()) out[sp + name] = v.detach().clone();
            } else {
              out[sp + name] = detail::scalar_of(v);
            }
          });
        }
        ids.push_back(index++);
      }
      out[prefix + "params"] = from_vector(ids, {static_cast<std::int64_t>(ids.size())});
      Options o = groups_[g].options;
      o.for_each_field(
          [&](const char* name, auto& v) { out[prefix + name] = detail::scalar_of(v); });
    }
    return out;
  }

  void load_state_dict(const StateDict& state) override {
    std::vector<std::string> missing;
    std::map<std::string, bool> used;
    for (const auto& [k, t] : state) used[k] = false;
    auto take = [&](const std::string& key) -> const Tensor* {
      const auto it = state.find(key);
      if (it == state.end()) return nullptr;
      used[key] = true;
      return &it->second;
    };
    // Build the new groups and state aside; commit only if all is well.
    std::vector<Options> options;
    std::vector<std::vector<std::optional<State>>> new_state;
    std::int64_t index = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const std::string prefix = "param_groups." + std::to_string(g) + ".";
      if (const Tensor* ids = take(prefix + "params")) {
        const auto n = static_cast<std::int64_t>(groups_[g].params.size());
        std::vector<std::int64_t> want;
        for (std::int64_t i = 0; i < n; ++i) want.push_back(index + i);
        TG_CHECK(
            ids->dtype() == kInt64 && ids->dim() == 1 && ids->to_vector<std::int64_t>() == want,
            "Optimizer::load_state_dict: ", prefix, "params does not match this optimizer's ",
            "group ", g, " (", n, " parameters starting at index ", index, ")");
      } else {
        missing.push_back(prefix + "params");
      }
      Options o = groups_[g].options;
      o.for_each_field([&](const char* name, auto& v) {
        if (const Tensor* t = take(prefix + name))
          detail::read_scalar(prefix + name, *t, v);
        else
          missing.push_back(prefix + name);
      });
      o.validate();
      options.push_back(o);
      new_state.emplace_back(groups_[g].params.size());
      for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
        const Tensor& p = groups_[g].params[i];
        const std::string sp = "state." + std::to_string(index++) + ".";
        const bool present = std::any_of(state.begin(), state.end(),
                                         [&](const auto& kv) { return kv.first.starts_with(sp); });
        if (!present) continue;
        State s{};
        s.for_each_field([&](const char* name, auto& v) {
          const Tensor* t = take(sp + name);
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, Tensor>) {
            if (t) v = detail::read_state_tensor(sp + name, *t, p);  // optional buffers
          } else {
            if (t)
              detail::read_scalar(sp + name, *t, v);
            else
              missing.push_back(sp + name);
          }
        });
        new_state[g][i] = std::move(s);
      }
    }
    std::vector<std::string> unexpected;
    for (const auto& [k, u] : used)
      if (!u) unexpected.push_back(k);
    if (!missing.empty() || !unexpected.empty())
      detail::throw_bad_keys("Optimizer::load_state_dict", missing, unexpected);
    for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].options = options[g];
    state_ = std::move(new_state);
  }

 protected:
  explicit OptimizerWith(const Options& defaults) : defaults_(defaults) { defaults.validate(); }
  // For subclasses' constructors.
  void init_groups(std::vector<Tensor> params, const Options& options) {
    TG_CHECK(!params.empty(), "optimizer: got an empty parameter list");
    add_param_group(std::move(params), options);
  }
  void init_groups(std::vector<ParamGroup> groups) {
    TG_CHECK(!groups.empty(), "optimizer: got no parameter groups");
    for (auto& g : groups) add_param_group(std::move(g.params), g.options);
  }
  // The state of parameter i of group g, made on first use. Kept beside groups_ by position (the
  // optimizer needs no tensor identity): state_[g][i] belongs to groups_[g].params[i].
  State& state_of(std::size_t g, std::size_t i) {
    if (state_.size() <= g) state_.resize(g + 1);
    if (state_[g].size() <= i) state_[g].resize(i + 1);
    if (!state_[g][i]) state_[g][i].emplace();
    return *state_[g][i];
  }

  std::vector<ParamGroup> groups_;
  std::vector<std::vector<std::optional<State>>> state_;
  Options defaults_;
};

}  // namespace tg::optim
