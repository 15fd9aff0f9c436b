// OneCycleLR against the rates and momenta PyTorch 1.13 gives, step by step.
#define BOOST_TEST_MODULE one_cycle_lr
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace tt = boost::test_tools;

namespace {
// SGD(lr=0.1, momentum=0.9), OneCycleLR(max_lr=1.0, total_steps=10)
const std::vector<double> kSgdLrs = {0.040000000000000036,
                                     0.52,
                                     1.0,
                                     0.9504846320134737,
                                     0.8117456539497631,
                                     0.6112620219362893,
                                     0.38874197806371075,
                                     0.18825834605023697,
                                     0.049519367986526286,
                                     4e-06};
const std::vector<double> kSgdMomenta = {0.95,
                                         0.8999999999999999,
                                         0.85,
                                         0.854951556604879,
                                         0.8688255099070633,
                                         0.8888739533021842,
                                         0.9111260466978157,
                                         0.9311744900929366,
                                         0.945048443395121,
                                         0.95};
// Adam(lr=0.1), OneCycleLR(max_lr=0.01, epochs=3, steps_per_epoch=4, pct_start=0.25,
//   anneal_strategy='linear', three_phase=True, div_factor=10, final_div_factor=100)
const std::vector<double> kAdamLrs = {0.001,
                                      0.0055000000000000005,
                                      0.010000000000000002,
                                      0.0055,
                                      0.0009999999999999992,
                                      0.0008585714285714286,
                                      0.0007171428571428572,
                                      0.0005757142857142857,
                                      0.0004342857142857143,
                                      0.0002928571428571429,
                                      0.00015142857142857145,
                                      1.0000000000000026e-05};
const std::vector<double> kAdamBeta1 = {
    0.95, 0.8999999999999999, 0.85, 0.8999999999999999, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95,
    0.95};
}  // namespace

BOOST_AUTO_TEST_CASE(sgd_cos_two_phases_with_momentum) {
  Tensor p = zeros({1}).requires_grad_();
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  optim::OneCycleLR sched(opt, 1.0, {.total_steps = 10});
  for (std::size_t i = 0; i < kSgdLrs.size(); ++i) {
    BOOST_TEST(opt.lr() == kSgdLrs[i], tt::tolerance(1e-12) << "step " << i);
    BOOST_TEST(opt.param_groups()[0].options.momentum == kSgdMomenta[i], tt::tolerance(1e-12));
    opt.step();
    sched.step();
  }
  // PyTorch allows stepping to total_steps and refuses the step after.
  BOOST_TEST(
      contains(error_of([&] { sched.step(); }),
               "OneCycleLR: tried to step 11 times; the specified number of total steps is 10"));
}

BOOST_AUTO_TEST_CASE(adam_linear_three_phases_from_epochs) {
  Tensor p = zeros({1}).requires_grad_();
  optim::Adam opt({p}, {.lr = 0.1});
  optim::OneCycleLR sched(opt, 0.01,
                          {.epochs = 3,
                           .steps_per_epoch = 4,
                           .pct_start = 0.25,
                           .anneal_strategy = optim::AnnealStrategy::Linear,
                           .div_factor = 10.0,
                           .final_div_factor = 100.0,
                           .three_phase = true});
  BOOST_TEST(sched.total_steps() == 12);
  BOOST_TEST(*opt.initial_lr(0) == 0.001, tt::tolerance(1e-15));
  for (std::size_t i = 0; i < kAdamLrs.size(); ++i) {
    BOOST_TEST(opt.lr() == kAdamLrs[i], tt::tolerance(1e-12) << "step " << i);
    BOOST_TEST(opt.param_groups()[0].options.betas.first == kAdamBeta1[i], tt::tolerance(1e-12));
    opt.step();
    // The step to total_steps (allowed, as in PyTorch) would extrapolate the linear anneal
    // below 0, a rate set_lr refuses.
    if (i + 1 < kAdamLrs.size()) sched.step();
  }
  BOOST_TEST(contains(error_of([&] { sched.step(); }), "learning rate must be non-negative"));
}

BOOST_AUTO_TEST_CASE(misuse) {
  Tensor p = zeros({1}).requires_grad_();
  optim::Adagrad ada({p}, {.lr = 0.1});
  BOOST_TEST(contains(error_of([&] { optim::OneCycleLR(ada, 1.0, {.total_steps = 5}); }),
                      "cycle_momentum = false"));
  optim::OneCycleLR ok(ada, 1.0, {.total_steps = 5, .cycle_momentum = false});
  BOOST_TEST(ada.lr() == 0.04, tt::tolerance(1e-12));
  optim::SGD sgd({p}, {.lr = 0.1});
  BOOST_TEST(contains(error_of([&] { optim::OneCycleLR(sgd, 1.0, {}); }),
                      "give total_steps, or epochs and steps_per_epoch"));
  BOOST_TEST(
      contains(error_of([&] { optim::OneCycleLR(sgd, 1.0, {.total_steps = 5, .pct_start = 1.5}); }),
               "pct_start must be in [0, 1], got 1.5"));
  BOOST_TEST(contains(error_of([&] {
                        optim::OneCycleLR(sgd, std::vector<double>{1.0, 2.0}, {.total_steps = 5});
                      }),
                      "expected 1 max_lr values"));
}
