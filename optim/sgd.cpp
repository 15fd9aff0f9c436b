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

namespace {
template <typename T>
struct SGDCoeffs {
  T sign, lr, wd, mom, damp;
};

// kFirst: the momentum buffer starts as the gradient (PyTorch's first step).
template <bool kL2, bool kMomentum, bool kNesterov, bool kFirst, typename T>
void sgd_kernel(T* __restrict w, const T* __restrict g, T* __restrict buf, std::int64_t n,
                const SGDCoeffs<T> c) {
  for (std::int64_t i = 0; i < n; ++i) {
    T d = c.sign * g[i];
    if constexpr (kL2) d += c.wd * w[i];
    if constexpr (kMomentum) {
      if constexpr (kFirst)
        buf[i] = d;
      else
        buf[i] = c.mom * buf[i] + c.damp * d;
      if constexpr (kNesterov)
        d += c.mom * buf[i];
      else
        d = buf[i];
    }
    w[i] -= c.lr * d;
  }
}
}  // namespace

void SGD::step() {
  NoGradGuard guard;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& group = groups_[gi];
    const auto& o = group.options;
    for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
      const Tensor& p = group.params[pi];
      const Tensor g = detail::grad_of("SGD::step", p);
      if (!g.defined()) continue;
      Tensor buf;
      bool first = false;
      if (o.momentum != 0.0) {
        SGDState& s = state_of(gi, pi);
        first = !s.momentum_buffer.defined();
        if (first) s.momentum_buffer = empty_like(p);
        detail::check_state("SGD::step", p, {s.momentum_buffer});
        buf = s.momentum_buffer;
      }
      detail::update_param(p, g, [&](auto* w, const auto* gd, std::int64_t b, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(w)>;
        const SGDCoeffs<T> c{T(o.maximize ? -1 : 1), T(o.lr), T(o.weight_decay), T(o.momentum),
                             T(1.0 - o.dampening)};
        T* bd = buf.defined() ? buf.data_ptr<T>() + b : nullptr;
        detail::with_flag(o.weight_decay != 0.0, [&](auto l2) {
          detail::with_flag(buf.defined(), [&](auto mom) {
            detail::with_flag(o.nesterov, [&](auto nes) {
              detail::with_flag(first, [&](auto fst) {
                sgd_kernel<l2(), mom(), nes(), fst()>(w + b, gd + b, bd, e - b, c);
              });
            });
          });
        });
      });
    }
  }
}

}  // namespace tg::optim
