#include "tapegrad/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "tapegrad/core/error.h"

namespace tg::optim {
namespace {

template <typename Options>
void validate_adam(const char* name, const Options& o) {
  TG_CHECK(o.lr >= 0.0, name, ": invalid learning rate ", o.lr);
  TG_CHECK(o.eps >= 0.0, name, ": invalid eps ", o.eps);
  TG_CHECK(o.betas.first >= 0.0 && o.betas.first < 1.0, name, ": invalid beta1 ", o.betas.first,
           " (must be in [0, 1))");
  TG_CHECK(o.betas.second >= 0.0 && o.betas.second < 1.0, name, ": invalid beta2 ", o.betas.second,
           " (must be in [0, 1))");
  TG_CHECK(o.weight_decay >= 0.0, name, ": invalid weight_decay ", o.weight_decay);
}

template <typename T>
struct AdamCoeffs {
  T sign, b1, b2, eps, wd, decay, lr_c, bc2;
};

// The update of elements [0, n); kAms, kL2 and kDecoupled select the variant at compile time.
template <bool kAms, bool kL2, bool kDecoupled, typename T>
void adam_kernel(T* __restrict w, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict vmax, std::int64_t n, const AdamCoeffs<T> c) {
  for (std::int64_t i = 0; i < n; ++i) {
    T d = c.sign * g[i];
    if constexpr (kDecoupled) w[i] *= c.decay;
    if constexpr (kL2) d += c.wd * w[i];
    m[i] = c.b1 * m[i] + (T(1) - c.b1) * d;
    v[i] = c.b2 * v[i] + (T(1) - c.b2) * d * d;
    T vv = v[i];
    if constexpr (kAms) {
      vv = vmax[i] < vv ? vv : vmax[i];
      vmax[i] = vv;
    }
    w[i] -= c.lr_c * m[i] / (std::sqrt(vv) / c.bc2 + c.eps);
  }
}

// One Adam step over every group; `decoupled` selects AdamW's weight decay.
template <typename Groups, typename StateOf>
void adam_step(const char* name, Groups& groups, StateOf&& state_of, bool decoupled) {
  NoGradGuard guard;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    auto& group = groups[gi];
    const auto& o = group.options;
    for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
      const Tensor& p = group.params[pi];
      const Tensor g = detail::grad_of(name, p);
      if (!g.defined()) continue;
      AdamState& s = state_of(gi, pi);
      if (!s.exp_avg.defined()) {
        s.exp_avg = zeros_like(p);
        s.exp_avg_sq = zeros_like(p);
      }
      if (o.amsgrad && !s.max_exp_avg_sq.defined()) s.max_exp_avg_sq = zeros_like(p);
      detail::check_state(name, p, {s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq});
      s.step += 1;
      const double t = static_cast<double>(s.step);
      const double bc1 = 1.0 - std::pow(o.betas.first, t);
      const double bc2_sqrt = std::sqrt(1.0 - std::pow(o.betas.second, t));
      const double step_size = o.lr / bc1;
      const bool l2 = !decoupled && o.weight_decay != 0.0;
      const Tensor m_t = s.exp_avg, v_t = s.exp_avg_sq, vmax_t = s.max_exp_avg_sq;
      detail::update_param(p, g, [&](auto* w, const auto* gd, std::int64_t b, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(w)>;
        const AdamCoeffs<T> c{T(o.maximize ? -1 : 1), T(o.betas.first),
                              T(o.betas.second),      T(o.eps),
                              T(o.weight_decay),      T(1.0 - o.lr * o.weight_decay),
                              T(step_size),           T(bc2_sqrt)};
        T* m = m_t.data_ptr<T>() + b;
        T* v = v_t.data_ptr<T>() + b;
        T* vmax = o.amsgrad ? vmax_t.data_ptr<T>() + b : nullptr;
        detail::with_flag(o.amsgrad, [&](auto ams) {
          detail::with_flag(l2, [&](auto l2c) {
            detail::with_flag(decoupled, [&](auto dec) {
              adam_kernel<ams(), l2c(), dec()>(w + b, gd + b, m, v, vmax, e - b, c);
            });
          });
        });
      });
    }
  }
}

}  // namespace

void AdamOptions::validate() const { validate_adam("Adam", *this); }
void AdamWOptions::validate() const { validate_adam("AdamW", *this); }

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : OptimizerWith(options) {
  init_groups(std::move(params), options);
}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults) : OptimizerWith(defaults) {
  init_groups(std::move(groups));
}
void Adam::step() {
  adam_step(
      "Adam::step", groups_,
      [this](std::size_t g, std::size_t i) -> AdamState& { return state_of(g, i); }, false);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options) : OptimizerWith(options) {
  init_groups(std::move(params), options);
}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : OptimizerWith(defaults) {
  init_groups(std::move(groups));
}
void AdamW::step() {
  adam_step(
      "AdamW::step", groups_,
      [this](std::size_t g, std::size_t i) -> AdamState& { return state_of(g, i); }, true);
}

}  // namespace tg::optim
