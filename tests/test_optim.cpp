// Optimizers: a few steps of each against hand-computed values and against a plain-double
// transcription of PyTorch's documented update; each drives a least-squares problem to its
// optimum; parameter groups, state dicts, closures, validation and gradient clipping.
#define BOOST_TEST_MODULE optim
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <functional>
#include <optional>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace tt = boost::test_tools;

namespace {

Tensor param(std::initializer_list<double> v) { return tensor(v, kFloat64).requires_grad_(); }

// Runs `steps` steps of opt on p with the constant gradient g; returns p after each step.
std::vector<double> run_constant_grad(optim::Optimizer& opt, Tensor p, double g, int steps) {
  std::vector<double> out;
  for (int i = 0; i < steps; ++i) {
    p.set_grad(full(p.shape(), g, p.dtype()));
    opt.step();
    out.push_back(p.item());
  }
  return out;
}

// The quadratic used for the reference comparisons: loss = sum(c * p^2 / 2 + d * p), so the
// gradient c * p + d changes with p.
const std::vector<double> kC = {1.0, 3.0, 0.5}, kD = {-1.0, 0.5, 2.0};
void quadratic_grad(const Tensor& p) {
  auto loss =
      sum(tensor({1.0, 3.0, 0.5}, kFloat64) * p * p * 0.5 + tensor({-1.0, 0.5, 2.0}, kFloat64) * p);
  p.zero_grad();
  loss.backward();
}
std::vector<double> ref_grad(const std::vector<double>& p) {
  std::vector<double> g(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) g[i] = kC[i] * p[i] + kD[i];
  return g;
}

void check_matches_reference(optim::Optimizer& opt, const Tensor& p,
                             const std::function<void(std::vector<double>&)>& ref_step,
                             int steps = 6) {
  std::vector<double> r = p.to_vector<double>();
  for (int s = 0; s < steps; ++s) {
    quadratic_grad(p);
    opt.step();
    ref_step(r);
    const auto got = p.to_vector<double>();
    for (std::size_t i = 0; i < r.size(); ++i) BOOST_TEST(got[i] == r[i], tt::tolerance(1e-12));
  }
}
}  // namespace

// ---- hand-computed steps ----

BOOST_AUTO_TEST_CASE(sgd_hand_computed) {
  auto p = param({1.0});
  optim::SGD plain({p}, {.lr = 0.1});
  auto v = run_constant_grad(plain, p, 2.0, 2);
  BOOST_TEST(v[0] == 0.8, tt::tolerance(1e-15));
  BOOST_TEST(v[1] == 0.6, tt::tolerance(1e-15));

  // momentum 0.9, dampening 0.1, weight decay 0.01:
  //   d1 = 2 + 0.01 * 1 = 2.01, b1 = d1, p1 = 1 - 0.1 * 2.01 = 0.799
  //   d2 = 2 + 0.01 * 0.799 = 2.00799, b2 = 0.9 * 2.01 + 0.9 * 2.00799 = 3.616191,
  //   p2 = 0.799 - 0.3616191 = 0.4373809
  auto q = param({1.0});
  optim::SGD mom({q}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  v = run_constant_grad(mom, q, 2.0, 2);
  BOOST_TEST(v[0] == 0.799, tt::tolerance(1e-14));
  BOOST_TEST(v[1] == 0.4373809, tt::tolerance(1e-14));

  // Nesterov, momentum 0.9: b1 = 2, p1 = 1 - 0.1 * (2 + 1.8) = 0.62;
  // b2 = 3.8, p2 = 0.62 - 0.1 * (2 + 3.42) = 0.078.
  auto r = param({1.0});
  optim::SGD nes({r}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  v = run_constant_grad(nes, r, 2.0, 2);
  BOOST_TEST(v[0] == 0.62, tt::tolerance(1e-14));
  BOOST_TEST(v[1] == 0.078, tt::tolerance(1e-12));

  // maximize climbs.
  auto m = param({1.0});
  optim::SGD up({m}, {.lr = 0.1, .maximize = true});
  BOOST_TEST(run_constant_grad(up, m, 2.0, 1)[0] == 1.2, tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(adam_hand_computed) {
  // A constant gradient makes the bias-corrected moments exactly g and g^2, so every step
  // moves by lr * g / (|g| + eps): 0.1 * 2 / (2 + 1e-8).
  auto p = param({1.0});
  optim::Adam adam({p}, {.lr = 0.1});
  auto v = run_constant_grad(adam, p, 2.0, 3);
  const double stepsz = 0.1 * 2.0 / (2.0 + 1e-8);
  for (int k = 0; k < 3; ++k) BOOST_TEST(v[k] == 1.0 - (k + 1) * stepsz, tt::tolerance(1e-13));
  BOOST_TEST_REQUIRE(adam.state(p) != nullptr);
  const auto& st = *adam.state(p);
  BOOST_TEST(st.step == 3);
  // m3 = 2 * (1 - 0.9^3) = 0.542, v3 = 4 * (1 - 0.999^3) = 0.011988004
  BOOST_TEST(st.exp_avg.item() == 0.542, tt::tolerance(1e-14));
  BOOST_TEST(st.exp_avg_sq.item() == 0.011988004, tt::tolerance(1e-12));

  // Adam's weight decay enters the gradient; AdamW's shrinks the parameter first:
  // AdamW step 1: p = 1 * (1 - 0.1 * 0.5) = 0.95, then - 0.1 * 2 / (2 + 1e-8).
  auto w = param({1.0});
  optim::AdamW adamw({w}, {.lr = 0.1, .weight_decay = 0.5});
  BOOST_TEST(run_constant_grad(adamw, w, 2.0, 1)[0] == 0.95 - stepsz, tt::tolerance(1e-13));
  // Adam step 1 with decay: g = 2 + 0.5 = 2.5, still a step of lr * g / (|g| + eps).
  auto a = param({1.0});
  optim::Adam adam_wd({a}, {.lr = 0.1, .weight_decay = 0.5});
  BOOST_TEST(run_constant_grad(adam_wd, a, 2.0, 1)[0] == 1.0 - 0.1 * 2.5 / (2.5 + 1e-8),
             tt::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(adagrad_hand_computed) {
  // lr 0.1, lr_decay 0.1, initial accumulator 0.5, gradient 2:
  //   sum1 = 4.5, p1 = 1 - 0.1 * 2 / sqrt(4.5) = 0.905719096...
  //   sum2 = 8.5, p2 = p1 - (0.1 / 1.1) * 2 / sqrt(8.5) = 0.843357...
  auto p = param({1.0});
  optim::Adagrad opt({p}, {.lr = 0.1, .lr_decay = 0.1, .initial_accumulator_value = 0.5});
  auto v = run_constant_grad(opt, p, 2.0, 2);
  const double p1 = 1.0 - 0.1 * 2.0 / (std::sqrt(4.5) + 1e-10);
  BOOST_TEST(v[0] == p1, tt::tolerance(1e-14));
  BOOST_TEST(v[0] == 0.9057190958, tt::tolerance(1e-10));
  BOOST_TEST(v[1] == p1 - (0.1 / 1.1) * 2.0 / (std::sqrt(8.5) + 1e-10), tt::tolerance(1e-14));
  BOOST_TEST(v[1] == 0.84335, tt::tolerance(1e-5));
  BOOST_TEST(opt.state(p)->sum.item() == 8.5);
}

BOOST_AUTO_TEST_CASE(rmsprop_hand_computed) {
  // alpha 0.99, gradient 2: v1 = 0.04, p1 = 1 - 0.01 * 2 / (0.2 + 1e-8) = 0.9 (to 1e-9).
  auto p = param({1.0});
  optim::RMSprop opt({p}, {.lr = 0.01});
  BOOST_TEST(run_constant_grad(opt, p, 2.0, 1)[0] == 1.0 - 0.02 / (0.2 + 1e-8),
             tt::tolerance(1e-14));
  // Centered: a1 = 0.02, v1 - a1^2 = 0.0396, p1 = 1 - 0.02 / sqrt(0.0396) = 0.8994962...
  auto c = param({1.0});
  optim::RMSprop cen({c}, {.lr = 0.01, .centered = true});
  BOOST_TEST(run_constant_grad(cen, c, 2.0, 1)[0] == 1.0 - 0.02 / (std::sqrt(0.0396) + 1e-8),
             tt::tolerance(1e-14));
  BOOST_TEST(1.0 - 0.02 / std::sqrt(0.0396) == 0.8994962, tt::tolerance(1e-7));
  // Momentum 0.5: b1 = 2 / 0.2 = 10, p1 = 0.9; v2 = 0.99 * 0.04 + 0.04 = 0.0796,
  // b2 = 5 + 2 / sqrt(0.0796), p2 = p1 - 0.01 * b2 (each sqrt plus eps = 1e-8).
  auto m = param({1.0});
  optim::RMSprop mom({m}, {.lr = 0.01, .momentum = 0.5});
  auto v = run_constant_grad(mom, m, 2.0, 2);
  const double b1 = 2.0 / (0.2 + 1e-8);
  BOOST_TEST(v[0] == 1.0 - 0.01 * b1, tt::tolerance(1e-14));
  BOOST_TEST(v[1] == 1.0 - 0.01 * b1 - 0.01 * (0.5 * b1 + 2.0 / (std::sqrt(0.0796) + 1e-8)),
             tt::tolerance(1e-14));
}

// ---- against a transcription of the documented updates, gradients that change ----

BOOST_AUTO_TEST_CASE(sgd_matches_reference_updates) {
  const double lr = 0.05, mu = 0.8, damp = 0.3, wd = 0.02;
  for (bool nesterov : {false, true}) {
    auto p = param({0.5, -1.0, 2.0});
    optim::SGD opt({p}, {.lr = lr,
                         .momentum = mu,
                         .dampening = nesterov ? 0.0 : damp,
                         .weight_decay = wd,
                         .nesterov = nesterov});
    std::vector<double> buf;
    check_matches_reference(opt, p, [&](std::vector<double>& x) {
      auto g = ref_grad(x);
      const double dmp = nesterov ? 0.0 : damp;
      for (std::size_t i = 0; i < x.size(); ++i) g[i] += wd * x[i];
      if (buf.empty())
        buf = g;
      else
        for (std::size_t i = 0; i < x.size(); ++i) buf[i] = mu * buf[i] + (1 - dmp) * g[i];
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] -= lr * (nesterov ? g[i] + mu * buf[i] : buf[i]);
    });
  }
}

BOOST_AUTO_TEST_CASE(adam_and_adamw_match_reference_updates) {
  const double lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
  for (int variant = 0; variant < 4; ++variant) {
    const bool amsgrad = variant & 1, decoupled = variant & 2;
    auto p = param({0.5, -1.0, 2.0});
    std::unique_ptr<optim::Optimizer> opt;
    if (decoupled)
      opt = std::make_unique<optim::AdamW>(
          std::vector<Tensor>{p},
          optim::AdamWOptions{
              .lr = lr, .betas = {b1, b2}, .eps = eps, .weight_decay = wd, .amsgrad = amsgrad});
    else
      opt = std::make_unique<optim::Adam>(
          std::vector<Tensor>{p},
          optim::AdamOptions{
              .lr = lr, .betas = {b1, b2}, .eps = eps, .weight_decay = wd, .amsgrad = amsgrad});
    std::vector<double> m(3, 0.0), v(3, 0.0), vmax(3, 0.0);
    int t = 0;
    check_matches_reference(*opt, p, [&](std::vector<double>& x) {
      auto g = ref_grad(x);
      ++t;
      for (std::size_t i = 0; i < 3; ++i) {
        if (decoupled)
          x[i] *= 1 - lr * wd;
        else
          g[i] += wd * x[i];
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        vmax[i] = std::max(vmax[i], v[i]);
        const double vh = (amsgrad ? vmax[i] : v[i]) / (1 - std::pow(b2, t));
        const double mh = m[i] / (1 - std::pow(b1, t));
        x[i] -= lr * mh / (std::sqrt(vh) + eps);
      }
    });
  }
}

BOOST_AUTO_TEST_CASE(adagrad_matches_reference_updates) {
  const double lr = 0.2, decay = 0.05, wd = 0.01, init = 0.3, eps = 1e-10;
  auto p = param({0.5, -1.0, 2.0});
  optim::Adagrad opt({p}, {.lr = lr,
                           .lr_decay = decay,
                           .weight_decay = wd,
                           .initial_accumulator_value = init,
                           .eps = eps});
  std::vector<double> s(3, init);
  int t = 0;
  check_matches_reference(opt, p, [&](std::vector<double>& x) {
    auto g = ref_grad(x);
    ++t;
    const double clr = lr / (1 + (t - 1) * decay);
    for (std::size_t i = 0; i < 3; ++i) {
      g[i] += wd * x[i];
      s[i] += g[i] * g[i];
      x[i] -= clr * g[i] / (std::sqrt(s[i]) + eps);
    }
  });
}

BOOST_AUTO_TEST_CASE(rmsprop_matches_reference_updates) {
  const double lr = 0.01, alpha = 0.9, eps = 1e-8, wd = 0.05, mu = 0.7;
  for (int variant = 0; variant < 4; ++variant) {
    const bool centered = variant & 1, with_momentum = variant & 2;
    auto p = param({0.5, -1.0, 2.0});
    optim::RMSprop opt({p}, {.lr = lr,
                             .alpha = alpha,
                             .eps = eps,
                             .weight_decay = wd,
                             .momentum = with_momentum ? mu : 0.0,
                             .centered = centered});
    std::vector<double> sq(3, 0.0), ga(3, 0.0), buf(3, 0.0);
    check_matches_reference(opt, p, [&](std::vector<double>& x) {
      auto g = ref_grad(x);
      for (std::size_t i = 0; i < 3; ++i) {
        g[i] += wd * x[i];
        sq[i] = alpha * sq[i] + (1 - alpha) * g[i] * g[i];
        double avg;
        if (centered) {
          ga[i] = alpha * ga[i] + (1 - alpha) * g[i];
          avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
        } else {
          avg = std::sqrt(sq[i]) + eps;
        }
        if (with_momentum) {
          buf[i] = mu * buf[i] + g[i] / avg;
          x[i] -= lr * buf[i];
        } else {
          x[i] -= lr * g[i] / avg;
        }
      }
    });
  }
}

// ---- convergence ----

namespace {
// min_x mean((A x - b)^2) for a well-conditioned A with b = A x*: the optimum is x*.
struct LeastSquares {
  Tensor A, b, x_star;
  LeastSquares() {
    manual_seed(11);
    A = randn({40, 5}, kFloat64);
    x_star = tensor({1.5, -2.0, 0.5, 3.0, -1.0}, kFloat64);
    b = matmul(A, x_star);
  }
  Tensor loss(const Tensor& x) const {
    auto r = matmul(A, x) - b;
    return mean(r * r);
  }
};

double solve(optim::Optimizer& opt, const Tensor& x, const LeastSquares& ls, int steps,
             optim::LRScheduler* sched = nullptr) {
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    ls.loss(x).backward();
    opt.step();
    if (sched) sched->step();
  }
  return max(abs(x.detach() - ls.x_star)).item();
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_optimizer_solves_least_squares) {
  LeastSquares ls;
  auto fresh = [] { return zeros({5}, kFloat64).requires_grad_(); };
  auto check = [&](optim::Optimizer& opt, const Tensor& x, int steps, bool decay) {
    // RMSprop keeps stepping by about lr near the optimum; a decaying rate settles it.
    std::optional<optim::ExponentialLR> sched;
    if (decay) sched.emplace(opt, optim::ExponentialLROptions{.gamma = 0.997});
    BOOST_TEST(solve(opt, x, ls, steps, sched ? &*sched : nullptr) < 1e-6);
  };
  {
    auto x = fresh();
    optim::SGD opt({x}, {.lr = 0.1});
    check(opt, x, 500, false);
  }
  {
    auto x = fresh();
    optim::SGD opt({x}, {.lr = 0.05, .momentum = 0.9, .nesterov = true});
    check(opt, x, 500, false);
  }
  {
    auto x = fresh();
    optim::SGD opt({x}, {.lr = 0.05, .momentum = 0.5, .dampening = 0.5});
    check(opt, x, 500, false);
  }
  {
    auto x = fresh();
    optim::Adam opt({x}, {.lr = 0.05});
    check(opt, x, 2000, false);
  }
  {
    auto x = fresh();
    optim::Adam opt({x}, {.lr = 0.05, .amsgrad = true});
    check(opt, x, 2000, false);
  }
  {
    auto x = fresh();
    optim::AdamW opt({x}, {.lr = 0.05, .weight_decay = 0.0});
    check(opt, x, 2000, false);
  }
  {
    auto x = fresh();
    optim::Adagrad opt({x}, {.lr = 0.5});
    check(opt, x, 2000, false);
  }
  {
    auto x = fresh();
    optim::RMSprop opt({x}, {.lr = 0.01});
    check(opt, x, 2000, true);
  }
  {
    auto x = fresh();
    optim::RMSprop opt({x}, {.lr = 0.01, .momentum = 0.5, .centered = true});
    check(opt, x, 2000, true);
  }
}

BOOST_AUTO_TEST_CASE(adamw_decay_pulls_the_optimum_toward_zero) {
  // With decoupled decay the fixed point is no longer x*: a check that the decay is applied.
  LeastSquares ls;
  auto x = zeros({5}, kFloat64).requires_grad_();
  optim::AdamW opt({x}, {.lr = 0.05, .weight_decay = 0.5});
  solve(opt, x, ls, 1500);
  BOOST_TEST(sum(abs(x.detach())).item() < sum(abs(ls.x_star)).item() - 0.1);
}

// ---- groups, state, API ----

BOOST_AUTO_TEST_CASE(param_groups_have_their_own_options) {
  auto a = param({1.0}), b = param({1.0});
  optim::SGD opt({{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.01, .momentum = 0.9}}});
  BOOST_TEST(opt.num_param_groups() == 2u);
  a.set_grad(full({1}, 1.0, kFloat64));
  b.set_grad(full({1}, 1.0, kFloat64));
  opt.step();
  BOOST_TEST(a.item() == 0.9, tt::tolerance(1e-15));
  BOOST_TEST(b.item() == 0.99, tt::tolerance(1e-15));
  BOOST_TEST(opt.state(a) == nullptr);  // no momentum, no state
  BOOST_TEST(opt.state(b) != nullptr);
  auto c = param({2.0});
  opt.add_param_group({c});  // takes the constructor's defaults
  BOOST_TEST(opt.lr(2) == 1e-3);
  opt.set_lr(0.5);
  for (std::size_t g = 0; g < 3; ++g) BOOST_TEST(opt.lr(g) == 0.5);
  BOOST_TEST(opt.parameters().size() == 3u);
  BOOST_TEST(contains(error_of([&] { opt.add_param_group({a}); }),
                      "appears more than once across parameter groups"));
}

BOOST_AUTO_TEST_CASE(misuse_is_refused_with_clear_errors) {
  auto p = param({1.0});
  BOOST_TEST(
      contains(error_of([] { optim::SGD(std::vector<Tensor>{}, {}); }), "empty parameter list"));
  BOOST_TEST(contains(error_of([&] { optim::SGD({p}, {.lr = -1}); }), "invalid learning rate"));
  BOOST_TEST(contains(error_of([&] { optim::SGD({p}, {.lr = 0.1, .nesterov = true}); }),
                      "Nesterov momentum requires momentum > 0"));
  BOOST_TEST(contains(error_of([&] { optim::Adam({p}, {.betas = {1.0, 0.9}}); }), "invalid beta1"));
  BOOST_TEST(contains(error_of([&] { optim::SGD({zeros({2}, kInt64)}, {}); }),
                      "only floating-point tensors can be optimized"));
  auto nonleaf = p * 2.0;
  BOOST_TEST(contains(error_of([&] { optim::SGD({nonleaf}, {}); }), "not a leaf"));
  BOOST_TEST(contains(error_of([&] { optim::SGD({p, p}, {}); }), "more than once"));
}

BOOST_AUTO_TEST_CASE(parameters_without_gradients_are_skipped_and_zero_grad_works) {
  auto a = param({1.0}), b = param({1.0});
  optim::Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(full({1}, 1.0, kFloat64));
  opt.step();
  BOOST_TEST(a.item() != 1.0);
  BOOST_TEST(b.item() == 1.0);
  BOOST_TEST(opt.state(b) == nullptr);
  opt.zero_grad(/*set_to_none=*/false);
  BOOST_TEST(a.grad().item() == 0.0);
  opt.zero_grad();
  BOOST_TEST(!a.grad().defined());
}

BOOST_AUTO_TEST_CASE(step_with_closure_evaluates_then_steps) {
  auto x = param({3.0});
  optim::SGD opt({x}, {.lr = 0.25});
  NoGradGuard off;  // the closure still records: step turns grad mode on for it
  auto loss = opt.step([&] {
    opt.zero_grad();
    auto l = x * x;
    l.backward();
    return l;
  });
  BOOST_TEST(loss.item() == 9.0);
  BOOST_TEST(x.item() == 3.0 - 0.25 * 6.0);
}

BOOST_AUTO_TEST_CASE(updates_are_in_place_and_bump_versions) {
  nn::Linear lin(3, 2);
  Tensor w = lin.weight;
  optim::SGD opt(lin.parameters(), {.lr = 0.1});
  const auto v0 = w.version();
  lin(ones({4, 3})).sum().backward();
  opt.step();
  BOOST_TEST(w.is_same(lin.weight));
  BOOST_TEST(w.version() > v0);
  BOOST_TEST(w.is_leaf());
}

BOOST_AUTO_TEST_CASE(state_that_no_longer_fits_its_parameter_is_reported) {
  nn::Linear lin(2, 2);
  optim::Adam opt(lin.parameters(), {.lr = 0.1});
  lin(ones({1, 2})).sum().backward();
  opt.step();
  lin.to(kFloat64);  // after the optimizer made float32 state
  lin(ones({1, 2}, kFloat64)).sum().backward();
  BOOST_TEST(contains(error_of([&] { opt.step(); }),
                      "convert the module with to() before creating the optimizer"));
}

BOOST_AUTO_TEST_CASE(non_contiguous_parameters_are_updated_through_their_view) {
  auto base = tensor({{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}});
  auto p = base.t();  // [2, 3] view of base, transposed strides
  p.requires_grad_();
  BOOST_TEST(!p.is_contiguous());
  optim::SGD opt({p}, {.lr = 0.5});
  p.set_grad(ones({2, 3}));
  opt.step();
  BOOST_TEST(base.at({2, 1}) == 5.5);
  BOOST_TEST(p.at({0, 1}) == 2.5);
}

BOOST_AUTO_TEST_CASE(large_parameters_update_identically_on_any_thread_count) {
  manual_seed(5);
  auto init = randn({300, 400});
  auto grad = randn({300, 400});
  std::vector<Tensor> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    auto p = init.clone().requires_grad_();
    optim::Adam opt({p}, {.lr = 0.01});
    for (int i = 0; i < 3; ++i) {
      p.set_grad(grad.clone());
      opt.step();
    }
    results.push_back(p.detach());
  }
  BOOST_TEST(equal(results[0], results[1]));
}

BOOST_AUTO_TEST_CASE(state_dict_round_trip_continues_bit_for_bit) {
  LeastSquares ls;
  auto x1 = zeros({5}, kFloat64).requires_grad_();
  optim::Adam a({x1}, {.lr = 0.05, .amsgrad = true});
  solve(a, x1, ls, 7);
  auto saved = a.state_dict();
  BOOST_TEST(saved.count("state.0.exp_avg") == 1u);
  BOOST_TEST(saved.at("state.0.step").item<std::int64_t>() == 7);
  BOOST_TEST(saved.at("param_groups.0.lr").item() == 0.05);
  BOOST_TEST(saved.at("param_groups.0.amsgrad").dtype() == kUInt8);

  auto x2 = x1.detach().clone().requires_grad_();
  optim::Adam b({x2}, {.lr = 0.3});  // options come from the state dict
  b.load_state_dict(saved);
  BOOST_TEST(b.lr() == 0.05);
  BOOST_TEST(b.param_groups()[0].options.amsgrad);
  // The loaded state is a copy: stepping one does not touch the other's.
  solve(a, x1, ls, 5);
  solve(b, x2, ls, 5);
  BOOST_TEST(equal(x1.detach(), x2.detach()));
}

BOOST_AUTO_TEST_CASE(load_state_dict_refuses_mismatches_without_changing_anything) {
  auto x = param({1.0, 2.0});
  optim::SGD opt({x}, {.lr = 0.1, .momentum = 0.9});
  x.set_grad(ones({2}, kFloat64));
  opt.step();
  auto good = opt.state_dict();

  auto bad_shape = good;
  bad_shape["state.0.momentum_buffer"] = zeros({3}, kFloat64);
  BOOST_TEST(contains(error_of([&] { opt.load_state_dict(bad_shape); }),
                      "'state.0.momentum_buffer' has shape [3] but its parameter has shape [2]"));
  auto extra = good;
  extra["state.0.velocity"] = zeros({2}, kFloat64);
  extra["param_groups.0.betas"] = scalar_tensor(0.0, kFloat64);
  auto msg = error_of([&] { opt.load_state_dict(extra); });
  BOOST_TEST(contains(msg, "unexpected keys: param_groups.0.betas, state.0.velocity"));
  auto missing = good;
  missing.erase("param_groups.0.lr");
  BOOST_TEST(
      contains(error_of([&] { opt.load_state_dict(missing); }), "missing keys: param_groups.0.lr"));
  auto wrong_type = good;
  wrong_type["param_groups.0.nesterov"] = scalar_tensor(1.0, kFloat64);
  BOOST_TEST(contains(error_of([&] { opt.load_state_dict(wrong_type); }),
                      "'param_groups.0.nesterov' must be a 0-dim uint8 tensor"));
  auto wrong_layout = good;
  wrong_layout["param_groups.0.params"] = from_vector(std::vector<std::int64_t>{0, 1, 2});
  BOOST_TEST(contains(error_of([&] { opt.load_state_dict(wrong_layout); }),
                      "does not match this optimizer's group 0"));
  BOOST_TEST(opt.lr() == 0.1);
  // An Adam state dict is not an SGD one.
  auto y = param({1.0, 2.0});
  optim::Adam adam({y});
  BOOST_TEST(
      contains(error_of([&] { opt.load_state_dict(adam.state_dict()); }), "unexpected keys"));
}

// ---- gradient clipping ----

BOOST_AUTO_TEST_CASE(clip_grad_norm_scales_all_gradients_together) {
  auto a = param({0.0, 0.0}), b = param({0.0}), c = param({0.0});
  a.set_grad(tensor({3.0, 4.0}, kFloat64));
  b.set_grad(tensor({12.0}, kFloat64));
  const double total = optim::clip_grad_norm_({a, b, c}, 6.5);
  BOOST_TEST(total == 13.0);
  const double k = 6.5 / (13.0 + 1e-6);
  BOOST_TEST(a.grad().at({0}) == 3.0 * k, tt::tolerance(1e-15));
  BOOST_TEST(b.grad().at({0}) == 12.0 * k, tt::tolerance(1e-15));
  BOOST_TEST(!c.grad().defined());
  // Below the limit: untouched.
  BOOST_TEST(optim::clip_grad_norm_({a, b}, 100.0) == 6.5, tt::tolerance(1e-6));
  BOOST_TEST(a.grad().at({0}) == 3.0 * k);
  // Other norms.
  a.set_grad(tensor({3.0, -4.0}, kFloat64));
  b.set_grad(tensor({12.0}, kFloat64));
  BOOST_TEST(nn::utils::clip_grad_norm_({a, b}, 100.0, INFINITY) == 12.0);
  BOOST_TEST(optim::clip_grad_norm_({a, b}, 100.0, 1.0) == 19.0);
  BOOST_TEST(optim::clip_grad_norm_({a, b}, 1.0, 1.0) == 19.0);
  BOOST_TEST(a.grad().at({1}) == -4.0 / (19.0 + 1e-6), tt::tolerance(1e-15));
  // Non-finite.
  a.set_grad(tensor({NAN, 1.0}, kFloat64));
  BOOST_TEST(contains(error_of([&] { optim::clip_grad_norm_({a}, 1.0, 2.0, true); }), "is nan"));
  BOOST_TEST(std::isnan(optim::clip_grad_norm_({a}, 1.0)));
}

BOOST_AUTO_TEST_CASE(clip_grad_value_clamps_elementwise) {
  auto a = param({0.0, 0.0, 0.0});
  a.set_grad(tensor({-3.0, 0.5, 7.0}, kFloat64));
  optim::clip_grad_value_({a}, 1.0);
  BOOST_TEST(a.grad().to_vector<double>() == (std::vector<double>{-1.0, 0.5, 1.0}),
             tt::per_element());
  BOOST_TEST(contains(error_of([&] { optim::clip_grad_value_({a}, -1.0); }), "non-negative"));
}
