#include "tapegrad/optim/adagrad.h"

#include <cmath>

#include "tapegrad/core/error.h"

namespace tg::optim {

void AdagradOptions::validate() const {
  TG_CHECK(lr >= 0.0, "Adagrad: invalid learning rate ", lr);
  TG_CHECK(lr_decay >= 0.0, "Adagrad: invalid lr_decay ", lr_decay);
  TG_CHECK(weight_decay >= 0.0, "Adagrad: invalid weight_decay ", weight_decay);
  TG_CHECK(initial_accumulator_value >= 0.0, "Adagrad: invalid initial_accumulator_value ",
           initial_accumulator_value);
  TG_CHECK(eps >= 0.0, "Adagrad: invalid eps ", eps);
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : OptimizerWith(options) {
  init_groups(std::move(params), options);
}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : OptimizerWith(defaults) {
  init_groups(std::move(groups));
}

namespace {
template <bool kL2, typename T>
void adagrad_kernel(T* __restrict w, const T* __restrict g, T* __restrict sum, std::int64_t n,
                    T sign, T lr, T wd, T eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if constexpr (kL2) d += wd * w[i];
    sum[i] += d * d;
    w[i] -= lr * d / (std::sqrt(sum[i]) + eps);
  }
}
}  // namespace

void Adagrad::step() {
  NoGradGuard guard;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& group = groups_[gi];
    const auto& o = group.options;
    for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
      const Tensor& p = group.params[pi];
      const Tensor g = detail::grad_of("Adagrad::step", p);
      if (!g.defined()) continue;
      AdagradState& s = state_of(gi, pi);
      if (!s.sum.defined()) s.sum = full_like(p, o.initial_accumulator_value);
      detail::check_state("Adagrad::step", p, {s.sum});
      s.step += 1;
      const double clr = o.lr / (1.0 + static_cast<double>(s.step - 1) * o.lr_decay);
      const Tensor sum_t = s.sum;
      detail::update_param(p, g, [&](auto* w, const auto* gd, std::int64_t b, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* sum = sum_t.data_ptr<T>() + b;
        detail::with_flag(o.weight_decay != 0.0, [&](auto l2) {
          adagrad_kernel<l2()>(w + b, gd + b, sum, e - b, T(o.maximize ? -1 : 1), T(clr),
                               T(o.weight_decay), T(o.eps));
        });
      });
    }
  }
}

}  // namespace tg::optim
