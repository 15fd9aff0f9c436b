#include "tapegrad/optim/rmsprop.h"

#include <cmath>

#include "tapegrad/core/error.h"

namespace tg::optim {

void RMSpropOptions::validate() const {
  TG_CHECK(lr >= 0.0, "RMSprop: invalid learning rate ", lr);
  TG_CHECK(alpha >= 0.0, "RMSprop: invalid alpha ", alpha);
  TG_CHECK(eps >= 0.0, "RMSprop: invalid eps ", eps);
  TG_CHECK(weight_decay >= 0.0, "RMSprop: invalid weight_decay ", weight_decay);
  TG_CHECK(momentum >= 0.0, "RMSprop: invalid momentum ", momentum);
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : OptimizerWith(options) {
  init_groups(std::move(params), options);
}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : OptimizerWith(defaults) {
  init_groups(std::move(groups));
}

namespace {
template <typename T>
struct RMSpropCoeffs {
  T sign, lr, alpha, eps, wd, mom;
};

template <bool kL2, bool kCentered, bool kMomentum, typename T>
void rmsprop_kernel(T* __restrict w, const T* __restrict g, T* __restrict sq, T* __restrict ga,
                    T* __restrict buf, std::int64_t n, const RMSpropCoeffs<T> c) {
  for (std::int64_t i = 0; i < n; ++i) {
    T d = c.sign * g[i];
    if constexpr (kL2) d += c.wd * w[i];
    sq[i] = c.alpha * sq[i] + (T(1) - c.alpha) * d * d;
    T avg;
    if constexpr (kCentered) {
      ga[i] = c.alpha * ga[i] + (T(1) - c.alpha) * d;
      avg = std::sqrt(sq[i] - ga[i] * ga[i]) + c.eps;
    } else {
      avg = std::sqrt(sq[i]) + c.eps;
    }
    if constexpr (kMomentum) {
      buf[i] = c.mom * buf[i] + d / avg;
      w[i] -= c.lr * buf[i];
    } else {
      w[i] -= c.lr * d / avg;
    }
  }
}
}  // namespace

void RMSprop::step() {
  NoGradGuard guard;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& group = groups_[gi];
    const auto& o = group.options;
    for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
      const Tensor& p = group.params[pi];
      const Tensor g = detail::grad_of("RMSprop::step", p);
      if (!g.defined()) continue;
      RMSpropState& s = state_of(gi, pi);
      if (!s.square_avg.defined()) s.square_avg = zeros_like(p);
      if (o.momentum > 0.0 && !s.momentum_buffer.defined()) s.momentum_buffer = zeros_like(p);
      if (o.centered && !s.grad_avg.defined()) s.grad_avg = zeros_like(p);
      detail::check_state("RMSprop::step", p, {s.square_avg, s.momentum_buffer, s.grad_avg});
      s.step += 1;
      const Tensor sq_t = s.square_avg, buf_t = s.momentum_buffer, ga_t = s.grad_avg;
      const bool momentum = o.momentum > 0.0;
      detail::update_param(p, g, [&](auto* w, const auto* gd, std::int64_t b, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(w)>;
        const RMSpropCoeffs<T> c{T(o.maximize ? -1 : 1), T(o.lr),      T(o.alpha), T(o.eps),
                                 T(o.weight_decay),      T(o.momentum)};
        T* sq = sq_t.data_ptr<T>() + b;
        T* buf = momentum ? buf_t.data_ptr<T>() + b : nullptr;
        T* ga = o.centered ? ga_t.data_ptr<T>() + b : nullptr;
        detail::with_flag(o.weight_decay != 0.0, [&](auto l2) {
          detail::with_flag(o.centered, [&](auto cen) {
            detail::with_flag(momentum, [&](auto mom) {
              rmsprop_kernel<l2(), cen(), mom()>(w + b, gd + b, sq, ga, buf, e - b, c);
            });
          });
        });
      });
    }
  }
}

}  // namespace tg::optim
