// LR schedulers: each against its closed form, composition, the seed notebooks' decay rule,
// ReduceLROnPlateau's patience/cooldown/min_lr, state dicts and errors.
#define BOOST_TEST_MODULE schedulers
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <numbers>

using namespace tg;
namespace tt = boost::test_tools;

namespace {
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct Fixture {
  Tensor p = zeros({2}).requires_grad_();
  Tensor q = zeros({3}).requires_grad_();
};

// lr of group 0 at epochs 0..n-1 (the value in effect during each epoch).
template <typename S>
std::vector<double> trace(optim::Optimizer& opt, S& sched, int n) {
  std::vector<double> out;
  for (int e = 0; e < n; ++e) {
    out.push_back(opt.lr());
    sched.step();
  }
  return out;
}
void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) BOOST_TEST(got[i] == want[i], tt::tolerance(tol));
}
}  // namespace

BOOST_AUTO_TEST_CASE(step_lr_multiplies_every_step_size_epochs) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 1.0});
  optim::StepLR sched(opt, {.step_size = 3, .gamma = 0.5});
  const std::vector<double> want = {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25};
  BOOST_TEST(trace(opt, sched, 8) == want, tt::per_element());
  BOOST_TEST(sched.last_epoch() == 8);
  BOOST_TEST(sched.get_last_lr()[0] == 0.25);  // epoch 8 is not a multiple of 3
}

BOOST_AUTO_TEST_CASE(exponential_lr_multiplies_every_epoch) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 2.0});
  optim::ExponentialLR sched(opt, {.gamma = 0.9});
  auto got = trace(opt, sched, 20);
  for (int e = 0; e < 20; ++e) BOOST_TEST(got[e] == 2.0 * std::pow(0.9, e), tt::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(linear_lr_ramps_the_factor_then_holds) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.4});
  optim::LinearLR sched(opt, {.start_factor = 0.25, .end_factor = 1.0, .total_iters = 4});
  auto got = trace(opt, sched, 8);
  for (int e = 0; e < 8; ++e) {
    const double factor = 0.25 + 0.75 * std::min(e, 4) / 4.0;
    BOOST_TEST(got[e] == 0.4 * factor, tt::tolerance(1e-13));
  }
  BOOST_TEST(got[0] == 0.1, tt::tolerance(1e-15));  // applied at construction, as in PyTorch
  // Ramping down works the same way.
  Fixture g;
  optim::SGD opt2({g.p}, {.lr = 1.0});
  optim::LinearLR down(opt2, {.start_factor = 1.0, .end_factor = 0.1, .total_iters = 3});
  const std::vector<double> want = {1.0, 0.7, 0.4, 0.1, 0.1};
  check_close(trace(opt2, down, 5), want, 1e-13);
}

BOOST_AUTO_TEST_CASE(cosine_annealing_follows_the_closed_form_over_several_periods) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 1.0});
  optim::CosineAnnealingLR sched(opt, {.T_max = 10, .eta_min = 0.1});
  auto got = trace(opt, sched, 45);
  for (int e = 0; e < 45; ++e) {
    const double want = 0.1 + 0.9 * (1.0 + std::cos(std::numbers::pi * e / 10.0)) / 2.0;
    BOOST_TEST(got[e] == want, tt::tolerance(1e-9));
  }
  BOOST_TEST(got[10] == 0.1, tt::tolerance(1e-12));  // the bottom
  BOOST_TEST(got[20] == 1.0, tt::tolerance(1e-12));  // back at the top
}

BOOST_AUTO_TEST_CASE(decay_lr_reaches_the_final_rate_in_the_last_epoch) {
  for (auto decay : {optim::Decay::Linear, optim::Decay::Exponential}) {
    Fixture f;
    optim::SGD opt({f.p}, {.lr = 0.1});
    optim::DecayLR sched(opt, {.final_lr = 0.01, .epochs = 10, .decay = decay});
    auto got = trace(opt, sched, 13);
    // The seed notebook's recursion: lr -= (lr0 - lrN) / (N - 1), or lr *= (lrN/lr0)^(1/(N-1)).
    double seed = 0.1;
    const double step = (0.1 - 0.01) / 9.0, ratio = std::pow(0.01 / 0.1, 1.0 / 9.0);
    for (int e = 0; e < 10; ++e) {
      BOOST_TEST(got[e] == seed, tt::tolerance(1e-12));
      seed = decay == optim::Decay::Linear ? seed - step : seed * ratio;
    }
    BOOST_TEST(got[9] == 0.01);  // exactly, not up to drift
    BOOST_TEST(got[12] == 0.01);
  }
  // Linear decay may end at zero; exponential may not.
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.1});
  optim::DecayLR to_zero(opt, {.final_lr = 0.0, .epochs = 3, .decay = optim::Decay::Linear});
  const std::vector<double> want = {0.1, 0.05, 0.0};
  check_close(trace(opt, to_zero, 3), want, 1e-15);
  BOOST_TEST(contains(
      error_of([&] { optim::DecayLR(opt, {.final_lr = 0.0, .decay = optim::Decay::Exponential}); }),
      "final_lr > 0"));
  BOOST_TEST(contains(error_of([&] { optim::DecayLR(opt, {.final_lr = 0.1, .epochs = 1}); }),
                      "at least 2"));
}

BOOST_AUTO_TEST_CASE(schedulers_scale_each_group_from_its_own_base) {
  Fixture f;
  optim::SGD opt({{{f.p}, {.lr = 1.0}}, {{f.q}, {.lr = 0.1}}});
  optim::StepLR sched(opt, {.step_size = 1, .gamma = 0.5});
  sched.step();
  sched.step();
  BOOST_TEST(opt.lr(0) == 0.25);
  BOOST_TEST(opt.lr(1) == 0.025, tt::tolerance(1e-15));
  BOOST_TEST(sched.base_lrs() == (std::vector<double>{1.0, 0.1}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(chainable_schedulers_compose) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 1.0});
  optim::ExponentialLR a(opt, {.gamma = 0.5});
  optim::StepLR b(opt, {.step_size = 2, .gamma = 0.1});
  for (int e = 0; e < 7; ++e) {
    BOOST_TEST(opt.lr() == std::pow(0.5, e) * std::pow(0.1, e / 2), tt::tolerance(1e-12));
    a.step();
    b.step();
  }
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_waits_out_patience_and_cooldown) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 1.0});
  optim::ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 2, .cooldown = 1});
  const std::vector<double> metrics = {10, 9, 9, 9, 9, 9, 9, 9, 9, 8, 8};
  std::vector<double> lrs;
  for (double m : metrics) {
    sched.step(m);
    lrs.push_back(opt.lr());
  }
  // Bad epochs: e3 (1), e4 (2), e5 (3 > 2: halve, cooldown 1), e6 (cooldown: reset), e7 (1),
  // e8 (2), e9 (3: halve), then 8 improves.
  const std::vector<double> want = {1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25};
  BOOST_TEST(lrs == want, tt::per_element());
  BOOST_TEST(sched.best() == 8.0);

  // min_lr floors the rate; a change smaller than eps is skipped.
  Fixture g;
  optim::SGD opt2({g.p}, {.lr = 1.0});
  optim::ReduceLROnPlateau floor(opt2, {.factor = 0.1, .patience = 0, .min_lr = 0.3});
  for (double m : {5.0, 5.0, 5.0, 5.0}) floor.step(m);
  BOOST_TEST(opt2.lr() == 0.3);

  // Mode max with an absolute threshold: 1.05 is not better than 1.0 + 0.1.
  Fixture h;
  optim::SGD opt3({h.p}, {.lr = 1.0});
  optim::ReduceLROnPlateau up(opt3, {.mode = optim::PlateauMode::Max,
                                     .factor = 0.5,
                                     .patience = 0,
                                     .threshold = 0.1,
                                     .threshold_mode = optim::ThresholdMode::Abs});
  up.step(1.0);
  BOOST_TEST(opt3.lr() == 1.0);
  up.step(1.05);
  BOOST_TEST(opt3.lr() == 0.5);
  up.step(2.0);
  BOOST_TEST(opt3.lr() == 0.5);
  BOOST_TEST(contains(error_of([&] { up.step(); }), "pass the metric"));
}

BOOST_AUTO_TEST_CASE(state_dicts_resume_a_schedule_exactly) {
  auto run = [](bool resume) {
    Fixture f;
    auto opt = std::make_unique<optim::SGD>(std::vector<Tensor>{f.p}, optim::SGDOptions{.lr = 1});
    auto sched = std::make_unique<optim::CosineAnnealingLR>(
        *opt, optim::CosineAnnealingLROptions{.T_max = 7, .eta_min = 0.01});
    std::vector<double> lrs;
    for (int e = 0; e < 20; ++e) {
      if (resume && e == 9) {
        auto os = opt->state_dict();
        auto ss = sched->state_dict();
        opt = std::make_unique<optim::SGD>(std::vector<Tensor>{f.p}, optim::SGDOptions{.lr = 5});
        sched = std::make_unique<optim::CosineAnnealingLR>(
            *opt, optim::CosineAnnealingLROptions{.T_max = 7, .eta_min = 0.01});
        opt->load_state_dict(os);
        sched->load_state_dict(ss);
      }
      lrs.push_back(opt->lr());
      sched->step();
    }
    return lrs;
  };
  BOOST_TEST(run(false) == run(true), tt::per_element());  // bit for bit

  Fixture f;
  optim::SGD opt({f.p}, {.lr = 1.0});
  optim::ReduceLROnPlateau a(opt, {.patience = 1});
  a.step(3.0);
  a.step(4.0);
  optim::ReduceLROnPlateau b(opt, {.patience = 1});
  b.load_state_dict(a.state_dict());
  BOOST_TEST(b.best() == 3.0);
  BOOST_TEST(b.num_bad_epochs() == 1);
  BOOST_TEST(b.last_epoch() == 2);
}

BOOST_AUTO_TEST_CASE(scheduler_misuse_is_refused) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 1.0});
  BOOST_TEST(contains(error_of([&] { optim::StepLR(opt, {.step_size = 0}); }), "step_size"));
  BOOST_TEST(contains(error_of([&] { optim::CosineAnnealingLR(opt, {.T_max = 0}); }), "T_max"));
  BOOST_TEST(
      contains(error_of([&] { optim::LinearLR(opt, {.start_factor = 0.0}); }), "start_factor"));
  BOOST_TEST(contains(error_of([&] { optim::ReduceLROnPlateau(opt, {.factor = 1.0}); }), "factor"));
  optim::StepLR s(opt, {.step_size = 2});
  auto sd = s.state_dict();
  sd["base_lrs"] = from_vector(std::vector<double>{1.0, 2.0});
  BOOST_TEST(contains(error_of([&] { s.load_state_dict(sd); }), "shape [1]"));
  sd = s.state_dict();
  sd["gamma"] = scalar_tensor(0.1, kFloat64);
  BOOST_TEST(contains(error_of([&] { s.load_state_dict(sd); }), "unexpected key 'gamma'"));
  sd = s.state_dict();
  sd.erase("last_epoch");
  BOOST_TEST(contains(error_of([&] { s.load_state_dict(sd); }), "missing key 'last_epoch'"));
  // Groups added after the scheduler was made are noticed.
  opt.add_param_group({f.q});
  BOOST_TEST(contains(error_of([&] { s.step(); }), "2 parameter groups"));
}
