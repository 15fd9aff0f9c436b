// Early stopping: on a one-weight regression whose validation loss provably falls and then rises,
// training stops at the evaluation where it rises and the model gets back, bit for bit, the
// weights of the best evaluated epoch; patience, min_delta, eval_every, buffers and misuse.
#define BOOST_TEST_MODULE early_stopping
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace F = tg::nn::functional;

namespace {

// The problem. Model y = w x (one weight, w0 = 0), x = 1. Training target 2x, validation target
// x. Full-batch SGD with lr 0.05 on mean((w x - 2x)^2) (gradient 2 (w - 2)) gives
//   w_t = 2 - 2 * 0.9^t,    validation loss v_t = (w_t - 1)^2.
// w_t rises through 1 between t = 6 and t = 7 (0.9^t = 1/2 at t = 6.58), so
//   v_6 = (1 - 2 * 0.9^6)^2 = 0.003954,  v_7 = 0.001884,  v_8 = 0.019339,  v_9 = 0.050697:
// the validation loss falls until epoch 7 and rises from epoch 8 on.
constexpr double kLr = 0.05;
double closed_form_w(int t) { return 2.0 - 2.0 * std::pow(0.9, t); }
double closed_form_val(int t) { return std::pow(closed_form_w(t) - 1.0, 2.0); }

struct Problem {
  nn::Linear fc{1, 1, {.bias = false}};
  Tensor x = ones({4, 1}, kFloat64);
  Problem() {
    fc.to(kFloat64);
    nn::init::zeros_(fc.weight);
  }
  void train_epoch(optim::SGD& opt) {
    auto loss = F::mse_loss(fc(x), x * 2.0);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  double val_loss() {
    NoGradGuard no_grad;
    return F::mse_loss(fc(x), x).item();
  }
};

struct Outcome {
  std::int64_t best_epoch, stopped_epoch;
  Tensor final_weight;
  std::map<std::int64_t, Tensor> weight_after;  // a clone of w after each epoch
};

Outcome run(const optim::EarlyStoppingOptions& options, int max_epochs = 30) {
  Problem p;
  optim::SGD opt(p.fc.parameters(), {.lr = kLr});
  optim::EarlyStopping stopper(p.fc, options);
  Outcome out;
  for (int epoch = 1; epoch <= max_epochs; ++epoch) {
    p.train_epoch(opt);
    out.weight_after[epoch] = p.fc.weight.detach().clone();
    // The model follows the closed form, so the stop epochs below follow from it.
    BOOST_TEST(p.fc.weight.item() == closed_form_w(epoch), boost::test_tools::tolerance(1e-12));
    if (!stopper.should_evaluate(epoch)) continue;
    const double v = p.val_loss();
    BOOST_TEST(v == closed_form_val(epoch), boost::test_tools::tolerance(1e-10));
    if (stopper.step(epoch, v)) break;
  }
  BOOST_TEST(stopper.stopped());
  out.best_epoch = stopper.best_epoch();
  out.stopped_epoch = stopper.stopped_epoch();
  out.final_weight = p.fc.weight.detach().clone();
  BOOST_TEST(stopper.best_loss() == closed_form_val(static_cast<int>(out.best_epoch)),
             boost::test_tools::tolerance(1e-10));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(closed_form_falls_then_rises) {
  // The premise of the tests below, checked on the formula itself.
  for (int t = 1; t < 7; ++t) BOOST_TEST(closed_form_val(t + 1) < closed_form_val(t));
  for (int t = 7; t < 20; ++t) BOOST_TEST(closed_form_val(t + 1) > closed_form_val(t));
}

BOOST_AUTO_TEST_CASE(stops_at_first_rise_and_restores_best_bit_for_bit) {
  const Outcome o = run({.eval_every = 1});
  BOOST_TEST(o.best_epoch == 7);
  BOOST_TEST(o.stopped_epoch == 8);  // training did not go on after the rise
  BOOST_TEST(equal(o.final_weight, o.weight_after.at(7)));
  BOOST_TEST(!equal(o.final_weight, o.weight_after.at(8)));
  BOOST_TEST(o.weight_after.size() == 8u);
}

BOOST_AUTO_TEST_CASE(evaluates_every_k_epochs) {
  // k = 2 evaluates 2, 4, 6, 8: best 6, rise seen at 8.
  const Outcome two = run({.eval_every = 2});
  BOOST_TEST(two.best_epoch == 6);
  BOOST_TEST(two.stopped_epoch == 8);
  BOOST_TEST(equal(two.final_weight, two.weight_after.at(6)));
  // k = 3 evaluates 3, 6, 9: best 6, rise seen at 9.
  const Outcome three = run({.eval_every = 3});
  BOOST_TEST(three.best_epoch == 6);
  BOOST_TEST(three.stopped_epoch == 9);
  BOOST_TEST(equal(three.final_weight, three.weight_after.at(6)));
  // k = 5 evaluates 5, 10: v_10 = 0.0916 > v_5 = 0.0328.
  const Outcome five = run({.eval_every = 5});
  BOOST_TEST(five.best_epoch == 5);
  BOOST_TEST(five.stopped_epoch == 10);
  BOOST_TEST(equal(five.final_weight, five.weight_after.at(5)));
}

BOOST_AUTO_TEST_CASE(patience_waits_for_consecutive_bad_evaluations) {
  const Outcome o = run({.eval_every = 1, .patience = 3});
  BOOST_TEST(o.best_epoch == 7);
  BOOST_TEST(o.stopped_epoch == 10);  // 8, 9 and 10 did not improve
  BOOST_TEST(equal(o.final_weight, o.weight_after.at(7)));
}

BOOST_AUTO_TEST_CASE(min_delta_demands_a_large_enough_improvement) {
  // v_6 - v_7 = 0.002070: not an improvement when min_delta = 0.003, but one when 0.002.
  const Outcome strict = run({.eval_every = 1, .min_delta = 0.003});
  BOOST_TEST(strict.best_epoch == 6);
  BOOST_TEST(strict.stopped_epoch == 7);
  BOOST_TEST(equal(strict.final_weight, strict.weight_after.at(6)));
  const Outcome loose = run({.eval_every = 1, .min_delta = 0.002});
  BOOST_TEST(loose.best_epoch == 7);
  BOOST_TEST(loose.stopped_epoch == 8);
}

BOOST_AUTO_TEST_CASE(without_restore_the_last_weights_stay) {
  const Outcome o = run({.eval_every = 1, .restore_best = false});
  BOOST_TEST(o.stopped_epoch == 8);
  BOOST_TEST(equal(o.final_weight, o.weight_after.at(8)));
}

BOOST_AUTO_TEST_CASE(snapshot_is_deep_and_restore_keeps_handles) {
  manual_seed(3);
  nn::Sequential net{nn::Linear(3, 4), nn::BatchNorm1d(4)};
  const auto params_before = net.parameters();
  const Tensor running_mean = net.at<nn::BatchNorm1d>(1).running_mean;
  optim::SGD opt(net.parameters(), {.lr = 0.5});
  optim::EarlyStopping stopper(net, {.eval_every = 1});

  auto train_step = [&] {
    auto loss = net(randn({8, 3})).pow(2.0).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();  // changes the weights, and the forward changed the running statistics
  };
  train_step();
  BOOST_TEST(!stopper.step(1, 1.0));
  StateDict best;
  for (const auto& [k, v] : net.state_dict()) best.emplace(k, v.clone());
  BOOST_TEST(stopper.best_state().size() == best.size());  // includes the BN buffers

  train_step();
  train_step();
  BOOST_TEST(!equal(running_mean, best.at("1.running_mean")));  // the snapshot did not follow
  BOOST_TEST(equal(stopper.best_state().at("1.running_mean"), best.at("1.running_mean")));
  BOOST_TEST(stopper.step(2, 1.5));  // worse: stop and restore

  for (const auto& [k, v] : net.state_dict()) BOOST_TEST(equal(v, best.at(k)), k);
  // Same tensors as before, so the optimizer still trains the model it was given.
  const auto params_after = net.parameters();
  for (std::size_t i = 0; i < params_before.size(); ++i)
    BOOST_TEST(params_after[i].is_same(params_before[i]));
  BOOST_TEST(net.at<nn::BatchNorm1d>(1).running_mean.is_same(running_mean));
  train_step();
  BOOST_TEST(!equal(params_before[0], best.at("0.weight")));
}

BOOST_AUTO_TEST_CASE(nan_loss_is_never_an_improvement) {
  nn::Linear fc(2, 2);
  optim::EarlyStopping stopper(fc, {.patience = 2});
  BOOST_TEST(!stopper.step(1, 0.5));
  BOOST_TEST(!stopper.step(2, std::numeric_limits<double>::quiet_NaN()));
  BOOST_TEST(stopper.best_epoch() == 1);
  BOOST_TEST(stopper.bad_evaluations() == 1);
  BOOST_TEST(!stopper.step(3, 0.4));  // improvement resets the count
  BOOST_TEST(stopper.bad_evaluations() == 0);
  BOOST_TEST(stopper.best_epoch() == 3);
  BOOST_TEST(!stopper.step(4, std::numeric_limits<double>::quiet_NaN()));
  BOOST_TEST(stopper.step(5, std::numeric_limits<double>::quiet_NaN()));
  BOOST_TEST(stopper.stopped_epoch() == 5);
}

BOOST_AUTO_TEST_CASE(before_any_evaluation) {
  nn::Linear fc(2, 2);
  const Tensor w = fc.weight.detach().clone();
  optim::EarlyStopping stopper(fc);
  BOOST_TEST(std::isinf(stopper.best_loss()));
  BOOST_TEST(stopper.best_epoch() == 0);
  BOOST_TEST(!stopper.stopped());
  stopper.restore();  // nothing to restore yet: a no-op
  BOOST_TEST(equal(fc.weight, w));
  BOOST_TEST(!stopper.should_evaluate(0));
}

BOOST_AUTO_TEST_CASE(misuse_throws_clear_errors) {
  nn::Linear fc(2, 2);
  BOOST_TEST(contains(error_of([&] { optim::EarlyStopping(fc, {.eval_every = 0}); }),
                      "eval_every must be >= 1, got 0"));
  BOOST_TEST(contains(error_of([&] { optim::EarlyStopping(fc, {.patience = 0}); }),
                      "patience must be >= 1, got 0"));
  BOOST_TEST(contains(error_of([&] { optim::EarlyStopping(fc, {.min_delta = -1.0}); }),
                      "min_delta must be finite and >= 0, got -1"));
  optim::EarlyStopping stopper(fc, {.eval_every = 2});
  BOOST_TEST(!stopper.should_evaluate(1));
  BOOST_TEST(stopper.should_evaluate(2));
  BOOST_TEST(!stopper.step(2, 1.0));
  BOOST_TEST(contains(error_of([&] { stopper.step(2, 0.5); }),
                      "epoch 2 does not follow the last evaluated epoch 2"));
  BOOST_TEST(stopper.step(4, 2.0));
  BOOST_TEST(contains(error_of([&] { stopper.step(6, 0.1); }), "already stopped at epoch 4"));
}
