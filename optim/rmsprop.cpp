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

void RMSprop::step() {
  NoGradGuard guard;
  for (auto& group : groups_) {
    const auto& o = group.options;
    for (const auto& p : group.params) {
      const Tensor g = detail::grad_of("RMSprop::step", p);
      if (!g.defined()) continue;
      RMSpropState& s = state_of(p);
      if (!s.square_avg.defined()) s.square_avg = zeros_like(p);
      if (o.momentum > 0.0 && !s.momentum_buffer.defined()) s.momentum_buffer = zeros_like(p);
      if (o.centered && !s.grad_avg.defined()) s.grad_avg = zeros_like(p);
      s.step += 1;
      const Tensor sq_t = s.square_avg, buf_t = s.momentum_buffer, ga_t = s.grad_avg;
      detail::update_param(p, g, [&](auto* w, const auto* gd, std::int64_t b, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(w)>;
        const T lr = T(o.lr), alpha = T(o.alpha), eps = T(o.eps), wd = T(o.weight_decay);
        const T mom = T(o.momentum);
        T* sq = sq_t.data_ptr<T>();
        T* buf = o.momentum > 0.0 ? buf_t.data_ptr<T>() : nullptr;
        T* ga = o.centered ? ga_t.data_ptr<T>() : nullptr;
        for (std::int64_t i = b; i < e; ++i) {
          T d = o.maximize ? -gd[i] : gd[i];
          if (wd != T(0)) d += wd * w[i];
          sq[i] = alpha * sq[i] + (T(1) - alpha) * d * d;
          T avg;
          if (ga) {
            ga[i] = alpha * ga[i] + (T(1) - alpha) * d;
            avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
          } else {
            avg = std::sqrt(sq[i]) + eps;
          }
          if (buf) {
            buf[i] = mom * buf[i] + d / avg;
            w[i] -= lr * buf[i];
          } else {
            w[i] -= lr * d / avg;
          }
        }
      });
    }
  }
}

}  // namespace tg::optim
