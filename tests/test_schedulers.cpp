// LR schedulers: each against its closed form, composition, the seed notebooks' decay rule,
// ReduceLROnPlateau's patience/cooldown/min_lr, state dicts and errors.
#define BOOST_TEST_MODULE schedulers
#include <boost/test/unit_test.hpp>
#include <type_traits>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <functional>
#include <memory>
#include <numbers>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace tt = boost::test_tools;

namespace {

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
  // up.step() without the metric does not compile (see composite_scheduler_misuse_is_refused).
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

// ---- composition against PyTorch 1.13 (its lr lists, carried here) ----

namespace {
// lr of group 0 at epochs 0..n-1 while every scheduler in `all` steps once per epoch.
std::vector<double> trace_all(optim::Optimizer& opt, std::vector<optim::LRScheduler*> all, int n) {
  std::vector<double> out;
  for (int e = 0; e < n; ++e) {
    out.push_back(opt.lr());
    for (auto* s : all) s->step();
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_scheduler_made_after_another_takes_its_base_from_initial_lr) {
  // Issue 16: LinearLR(0.5, 6) then CosineAnnealingLR(12) on lr 0.1. The cosine's base is the
  // group's initial_lr (0.1), not the 0.05 LinearLR had set; from epoch 13 the old code gave half.
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.1});
  optim::LinearLR warm(opt, {.start_factor = 0.5, .total_iters = 6});
  optim::CosineAnnealingLR cos(opt, {.T_max = 12});
  BOOST_TEST(cos.base_lrs() == std::vector<double>{0.1}, tt::per_element());
  BOOST_TEST(*opt.initial_lr(0) == 0.1);
  const std::vector<double> torch = {0.05,
                                     0.0573395032667645,
                                     0.06220084679281463,
                                     0.06401650429449553,
                                     0.0625,
                                     0.05769587290053221,
                                     0.05,
                                     0.03705904774487397,
                                     0.025000000000000015,
                                     0.01464466094067263,
                                     0.006698729810778066,
                                     0.0017037086855465904,
                                     0.0,
                                     0.0017037086855465845,
                                     0.00669872981077806,
                                     0.014644660940672606,
                                     0.024999999999999977,
                                     0.037059047744873966,
                                     0.04999999999999999,
                                     0.06294095225512601,
                                     0.075,
                                     0.08535533905932736,
                                     0.09330127018922191,
                                     0.0982962913144534,
                                     0.09999999999999999,
                                     0.0982962913144534,
                                     0.09330127018922192,
                                     0.08535533905932736,
                                     0.07500000000000001,
                                     0.06294095225512603};
  const auto got = trace_all(opt, {&warm, &cos}, 30);
  BOOST_TEST_REQUIRE(got.size() == torch.size());
  for (std::size_t i = 0; i < got.size(); ++i) BOOST_TEST(std::abs(got[i] - torch[i]) <= 1e-15);
}

BOOST_AUTO_TEST_CASE(every_scheduler_composes_after_linear_lr_as_in_pytorch) {
  // LinearLR(0.5, 3) first, then each scheduler; both step every epoch; lr 0.1. PyTorch 1.13.
  struct Case {
    const char* name;
    std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)> make;
    std::vector<double> torch;
  };
  const std::vector<Case> cases = {
      {"StepLR(3, 0.5)",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::StepLR>(o, optim::StepLROptions{3, 0.5});
       },
       {0.05, 0.06666666666666667, 0.08333333333333333, 0.049999999999999996, 0.049999999999999996,
        0.049999999999999996, 0.024999999999999998, 0.024999999999999998, 0.024999999999999998,
        0.012499999999999999, 0.012499999999999999, 0.012499999999999999, 0.0062499999999999995,
        0.0062499999999999995}},
      {"ExponentialLR(0.8)",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::ExponentialLR>(o, optim::ExponentialLROptions{0.8});
       },
       {0.05, 0.05333333333333334, 0.05333333333333334, 0.0512, 0.04096, 0.032768000000000005,
        0.026214400000000006, 0.020971520000000007, 0.016777216000000008, 0.013421772800000007,
        0.010737418240000006, 0.008589934592000005, 0.0068719476736000045, 0.005497558138880004}},
      {"LinearLR(0.25, 4)",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::LinearLR>(
             o, optim::LinearLROptions{.start_factor = 0.25, .total_iters = 4});
       },
       {0.0125, 0.029166666666666667, 0.052083333333333336, 0.08125, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1,
        0.1, 0.1, 0.1, 0.1}},
      {"CosineAnnealingLR(5, 0.01)",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::CosineAnnealingLR>(
             o, optim::CosineAnnealingLROptions{5, 0.01});
       },
       {0.05, 0.061255481507290176, 0.05817003554515434, 0.04156840386281589, 0.018725292233565623,
        0.01, 0.018594235253127367, 0.04109423525312739, 0.06890576474687267, 0.09140576474687269,
        0.10000000000000006, 0.09140576474687272, 0.06890576474687268, 0.0410942352531274}},
      {"ConstantLR(0.5, 3)",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::ConstantLR>(o, optim::ConstantLROptions{0.5, 3});
       },
       {0.025, 0.03333333333333333, 0.041666666666666664, 0.09999999999999999, 0.09999999999999999,
        0.09999999999999999, 0.09999999999999999, 0.09999999999999999, 0.09999999999999999,
        0.09999999999999999, 0.09999999999999999, 0.09999999999999999, 0.09999999999999999,
        0.09999999999999999}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Fixture f;
      optim::SGD opt({f.p}, {.lr = 0.1});
      optim::LinearLR first(opt, {.start_factor = 0.5, .total_iters = 3});
      auto second = c.make(opt);
      BOOST_TEST(second->base_lrs() == std::vector<double>{0.1}, tt::per_element());
      check_close(trace_all(opt, {&first, second.get()}, 14), c.torch, 1e-12);
    }
  }
  // DecayLR (not in PyTorch) is closed-form from its base, the initial 0.1: LinearLR's factor
  // is overwritten each step, like PyTorch's LambdaLR after another scheduler.
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.1});
  optim::LinearLR first(opt, {.start_factor = 0.5, .total_iters = 3});
  optim::DecayLR decay(opt, {.final_lr = 0.0, .epochs = 3, .decay = optim::Decay::Linear});
  check_close(trace_all(opt, {&first, &decay}, 4), {0.1, 0.05, 0.0, 0.0}, 1e-15);
}

BOOST_AUTO_TEST_CASE(sequential_lr_warms_up_then_anneals_as_in_pytorch) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.1});
  optim::LinearLR warm(opt, {.start_factor = 0.1, .total_iters = 5});
  optim::CosineAnnealingLR cos(opt, {.T_max = 10, .eta_min = 0.001});
  optim::SequentialLR seq(opt, {warm, cos}, {5});
  const std::vector<double> torch = {0.010000000000000002,
                                     0.028000000000000004,
                                     0.046000000000000006,
                                     0.064,
                                     0.082,
                                     0.1,
                                     0.09757729755661011,
                                     0.0905463412215599,
                                     0.07959536998847742,
                                     0.0657963412215599,
                                     0.0505,
                                     0.03520365877844011,
                                     0.02140463001152259,
                                     0.010453658778440109,
                                     0.0034227024433899004,
                                     0.001,
                                     0.0034227024433899004,
                                     0.01045365877844014,
                                     0.02140463001152267,
                                     0.035203658778440255};
  check_close(trace(opt, seq, 20), torch, 1e-12);
  BOOST_TEST(seq.last_epoch() == 20);
  BOOST_TEST(seq.get_last_lr()[0] == opt.lr());
}

BOOST_AUTO_TEST_CASE(sequential_lr_state_dict_resumes_exactly) {
  auto run = [](bool resume) {
    Fixture f;
    optim::SGD opt({f.p}, {.lr = 0.1});
    auto warm = std::make_unique<optim::LinearLR>(
        opt, optim::LinearLROptions{.start_factor = 0.1, .total_iters = 5});
    auto cos =
        std::make_unique<optim::CosineAnnealingLR>(opt, optim::CosineAnnealingLROptions{10, 0.001});
    auto seq = std::make_unique<optim::SequentialLR>(
        opt, std::initializer_list<std::reference_wrapper<optim::LRScheduler>>{*warm, *cos},
        std::vector<std::int64_t>{5});
    std::vector<double> lrs;
    for (int e = 0; e < 18; ++e) {
      if (resume && e == 7) {
        const auto os = opt.state_dict();
        const auto ss = seq->state_dict();
        // PyTorch's layout: the sequence's own entries and each child's state.
        BOOST_TEST(ss.at("last_epoch").item<std::int64_t>() == 7);
        BOOST_TEST(ss.at("schedulers.0.last_epoch").item<std::int64_t>() == 4);
        BOOST_TEST(ss.at("schedulers.1.last_epoch").item<std::int64_t>() == 2);
        BOOST_TEST(ss.at("last_lrs").to_vector<double>()[0] == 0.0905463412215599,
                   tt::tolerance(1e-12));
        seq.reset();
        cos.reset();
        warm.reset();
        warm = std::make_unique<optim::LinearLR>(
            opt, optim::LinearLROptions{.start_factor = 0.1, .total_iters = 5});
        cos = std::make_unique<optim::CosineAnnealingLR>(
            opt, optim::CosineAnnealingLROptions{10, 0.001});
        seq = std::make_unique<optim::SequentialLR>(
            opt, std::initializer_list<std::reference_wrapper<optim::LRScheduler>>{*warm, *cos},
            std::vector<std::int64_t>{5});
        opt.load_state_dict(os);
        seq->load_state_dict(ss);
      }
      lrs.push_back(opt.lr());
      seq->step();
    }
    return lrs;
  };
  BOOST_TEST(run(false) == run(true), tt::per_element());

  // Loading a scheduler's state restores initial_lr (PyTorch keeps it in the optimizer's state
  // dict), so a scheduler made after a resume takes the original base.
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.1});
  optim::ExponentialLR a(opt, {.gamma = 0.5});
  a.step();
  const auto sd = a.state_dict();
  optim::SGD resumed({f.p}, {.lr = 0.05});
  optim::ExponentialLR b(resumed, {.gamma = 0.5});
  BOOST_TEST(*resumed.initial_lr(0) == 0.05);
  b.load_state_dict(sd);
  BOOST_TEST(*resumed.initial_lr(0) == 0.1);
  optim::CosineAnnealingLR later(resumed, {.T_max = 4});
  BOOST_TEST(later.base_lrs()[0] == 0.1);
}

BOOST_AUTO_TEST_CASE(chained_scheduler_multiplies_constant_and_exponential_as_in_pytorch) {
  Fixture f;
  optim::SGD opt({f.p}, {.lr = 0.1});
  optim::ConstantLR constant(opt, {.factor = 0.5, .total_iters = 4});
  optim::ExponentialLR exp(opt, {.gamma = 0.9});
  optim::ChainedScheduler chain({constant, exp});
  const std::vector<double> torch = {0.05,
                                     0.045000000000000005,
                                     0.04050000000000001,
                                     0.03645000000000001,
                                     0.06561000000000002,
                                     0.05904900000000002,
                                     0.05314410000000002,
                                     0.04782969000000002,
                                     0.043046721000000024,
                                     0.03874204890000002};
  check_close(trace(opt, chain, 10), torch, 1e-12);

  // Its state dict holds each child's; loading it into a fresh chain continues the schedule.
  const auto sd = chain.state_dict();
  BOOST_TEST(sd.at("schedulers.0.last_epoch").item<std::int64_t>() == 10);
  Fixture g;
  optim::SGD opt2({g.p}, {.lr = 0.1});
  optim::ConstantLR c2(opt2, {.factor = 0.5, .total_iters = 4});
  optim::ExponentialLR e2(opt2, {.gamma = 0.9});
  optim::ChainedScheduler chain2({c2, e2});
  chain2.load_state_dict(sd);
  opt2.set_lr(opt.lr());
  chain.step();
  chain2.step();
  BOOST_TEST(opt2.lr() == opt.lr());
  BOOST_TEST(c2.last_epoch() == 11);
}

template <typename S>
concept SteppableWithoutMetric = requires(S& s) {
  s.step();
};
template <typename S>
concept SteppableWithMetric = requires(S& s) {
  s.step(0.5);
};

BOOST_AUTO_TEST_CASE(composite_scheduler_misuse_is_refused) {
  Fixture f, g;
  optim::SGD opt({f.p}, {.lr = 1.0});
  optim::SGD other({g.p}, {.lr = 1.0});
  optim::LinearLR a(opt);
  optim::ExponentialLR b(opt, {.gamma = 0.9});
  optim::ExponentialLR foreign(other, {.gamma = 0.9});
  optim::ReduceLROnPlateau plateau(opt);
  using L = std::initializer_list<std::reference_wrapper<optim::LRScheduler>>;
  BOOST_TEST(contains(error_of([&] {
                        optim::SequentialLR(opt, L{a, b}, {});
                      }),
                      "expected 1 milestones"));
  BOOST_TEST(contains(error_of([&] {
                        optim::SequentialLR(opt, L{a, b}, {0});
                      }),
                      "strictly increasing"));
  BOOST_TEST(contains(error_of([&] {
                        optim::SequentialLR(opt, L{a, foreign}, {3});
                      }),
                      "different optimizer"));
  // A ReduceLROnPlateau is not an LRScheduler: it cannot be combined, and step() without the
  // metric does not compile (both checked at compile time).
  static_assert(!std::is_convertible_v<optim::ReduceLROnPlateau&, optim::LRScheduler&>);
  static_assert(!SteppableWithoutMetric<optim::ReduceLROnPlateau>);
  static_assert(SteppableWithMetric<optim::ReduceLROnPlateau>);
  static_assert(SteppableWithoutMetric<optim::StepLR>);
  plateau.step(1.0);
  BOOST_TEST(plateau.last_epoch() == 1);
  BOOST_TEST(contains(error_of([&] { optim::ChainedScheduler(L{}); }), "at least one"));
  BOOST_TEST(contains(error_of([&] { optim::ChainedScheduler(L{a, a}); }), "listed twice"));
  BOOST_TEST(contains(error_of([&] { optim::ConstantLR(opt, {.factor = 0.0}); }), "factor"));
  // A bad child entry is refused and changes nothing.
  optim::ChainedScheduler chain(L{a, b});
  chain.step();
  auto sd = chain.state_dict();
  sd["schedulers.1.last_epoch"] = from_vector(std::vector<double>{1.0});
  BOOST_TEST(contains(error_of([&] { chain.load_state_dict(sd); }), "last_epoch"));
  BOOST_TEST(a.last_epoch() == 1);
  sd = chain.state_dict();
  sd["schedulers.7.last_epoch"] = sd.at("schedulers.0.last_epoch");
  BOOST_TEST(
      contains(error_of([&] { chain.load_state_dict(sd); }), "unexpected key 'schedulers.7"));
}
