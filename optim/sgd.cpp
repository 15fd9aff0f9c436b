#include "tapegrad/optim/sgd.h"

#include "tapegrad/core/error.h"

namespace tg::optim {

void SGDOptions::validate() const {
  TG_CHECK(lr >= 0.0, "SGD: invalid learning rate ", lr);
  TG_CHECK(momentum >= 0.0, "SGD: invalid momentum ", momentum);
  TG_CHECK(weight_decay >= 0.0, "SGD: invalid weight_decay ", weight_decay);
  TG_CHECK(!nesterov || (momentum > 0.0 && dampening == 0.0),
           "SGD: Nesterov momentum requires momentum > 0 and zero dampening (momentum ", momentum,
           ", dampening ", dampening, ")");
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : OptimizerWith(options) {
  init_groups(std::move(params), options);
}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) : OptimizerWith(defaults) {
  init_groups(std::move(groups));
}

void SGD::step() {
  NoGradGuard guard;
  for (auto& group : groups_) {
    const auto& o = group.options;
    for (const auto& p : group.params) {
      const Tensor g = detail::grad_of("SGD::step", p);
      if (!g.defined()) continue;
      Tensor buf;
      bool first = false;
      if (o.momentum != 0.0) {
        SGDState& s = state_of(p);
        first = !s.momentum_buffer.defined();
        if (first) s.momentum_buffer = zeros_like(p);
        buf = s.momentum_buffer;
      }
      const bool use_momentum = buf.defined();
      detail::update_param(p, g, [&](auto* w, const auto* gd, std::int64_t b, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(w)>;
        const T lr = T(o.lr), wd = T(o.weight_decay), mom = T(o.momentum);
        const T damp = T(1.0 - o.dampening);
        T* bd = use_momentum ? buf.template data_ptr<T>() : nullptr;
        for (std::int64_t i = b; i < e; ++i) {
          T d = o.maximize ? -gd[i] : gd[i];
          if (wd != T(0)) d += wd * w[i];
          if (bd) {
            bd[i] = first ? d : mom * bd[i] + damp * d;
            d = o.nesterov ? d + mom * bd[i] : bd[i];
          }
          w[i] -= lr * d;
        }
      });
    }
  }
}

}  // namespace tg::optim
