// Metrics on hand-computed cases: accuracy from logits, indices or one-hot targets, confusion
// matrix and per-class accuracy, MAE/RMSE, and evaluate() over a loader under no_grad.
#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {

Tensor ints(std::vector<std::int64_t> v) { return from_vector(v); }

// Row argmaxes 1, 0, 2, 0 (the last row ties: the first maximum wins).
Tensor logits() {
  return tensor({{0.1f, 0.7f, 0.2f}, {2.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 5.0f}, {1.0f, 1.0f, 0.0f}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(accuracy_from_logits_indices_and_one_hot) {
  const Tensor y = ints({1, 0, 1, 2});
  BOOST_TEST(metrics::predictions(logits()).to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{1, 0, 2, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(metrics::accuracy(logits(), y) == 0.5);  // rows 0 and 1 right
  BOOST_TEST(metrics::correct(logits(), y) == 2);
  BOOST_TEST(metrics::accuracy(ints({1, 0, 1, 0}), y) == 0.75);
  const Tensor one_hot_y = one_hot(y, 3, kFloat32);
  BOOST_TEST(metrics::accuracy(logits(), one_hot_y) == 0.5);
  BOOST_TEST(metrics::accuracy(logits().to(kFloat64), y) == 0.5);
  BOOST_TEST(metrics::accuracy(zeros({0, 3}), ints({})) == 0.0);

  BOOST_TEST(contains(error_of([&] {
                        metrics::accuracy(logits(), ints({1, 2}));
                      }),
                      "accuracy: 4 predictions"));
  BOOST_TEST(contains(error_of([&] {
                        metrics::accuracy(tensor({0.5f, 1.0f}), ints({0, 1}));
                      }),
                      "must hold integer class indices"));
  BOOST_TEST(contains(error_of([&] {
                        metrics::accuracy(zeros({2, 2, 2}), ints({0, 1}));
                      }),
                      "[2, 2, 2]"));
}

BOOST_AUTO_TEST_CASE(confusion_matrix_and_per_class_accuracy) {
  // targets 1 0 1 2 3 3 vs predictions 1 0 2 0 3 1
  const Tensor y = ints({1, 0, 1, 2, 3, 3}), p = ints({1, 0, 2, 0, 3, 1});
  const Tensor m = metrics::confusion_matrix(p, y, 5);
  BOOST_TEST(m.dtype() == kInt64);
  BOOST_TEST(m.shape() == (Shape{5, 5}));
  const std::vector<std::int64_t> expect{1, 0, 0, 0, 0,   // true 0
                                         0, 1, 1, 0, 0,   // true 1
                                         1, 0, 0, 0, 0,   // true 2
                                         0, 1, 0, 1, 0,   // true 3
                                         0, 0, 0, 0, 0};  // true 4: no samples
  BOOST_TEST(m.to_vector<std::int64_t>() == expect, boost::test_tools::per_element());
  const auto acc = metrics::per_class_accuracy(p, y, 5);
  BOOST_REQUIRE(acc.size() == 5u);
  BOOST_TEST(acc[0] == 1.0);
  BOOST_TEST(acc[1] == 0.5);
  BOOST_TEST(acc[2] == 0.0);
  BOOST_TEST(acc[3] == 0.5);
  BOOST_TEST(std::isnan(acc[4]));

  const std::string text = metrics::format_confusion_matrix(metrics::confusion_matrix(p, y, 4),
                                                            {"zero", "one", "two", "three"});
  BOOST_TEST(contains(text, "recall"), text);
  BOOST_TEST(contains(text, "  one   0   1   1   0  0.5000"), text);

  BOOST_TEST(contains(error_of([&] { metrics::confusion_matrix(p, y, 3); }),
                      "sample 4 has target 3 and prediction 3, outside [0, 3)"));
  BOOST_TEST(contains(error_of([&] {
                        metrics::per_class_accuracy(zeros({2, 3}));
                      }),
                      "square confusion matrix"));
}

BOOST_AUTO_TEST_CASE(mae_and_rmse) {
  const Tensor pred = tensor({1.0f, 2.0f, 3.0f, 4.0f}), target = tensor({2.0f, 2.0f, 5.0f, 0.0f});
  BOOST_TEST(metrics::mae(pred, target) == 1.75);              // |diffs| 1 0 2 4
  BOOST_TEST(metrics::rmse(pred, target) == std::sqrt(5.25));  // squares 1 0 4 16
  BOOST_TEST(metrics::mae(pred, pred) == 0.0);
  BOOST_TEST(metrics::rmse(pred.reshape({2, 2}), target.reshape({2, 2})) == std::sqrt(5.25));
  BOOST_TEST(contains(error_of([&] {
                        metrics::mae(pred, target.reshape({2, 2}));
                      }),
                      "mae: prediction and target must have the same shape"));
}

BOOST_AUTO_TEST_CASE(evaluate_runs_under_no_grad_and_weights_batches_by_size) {
  // 5 samples of 2 logits; predictions 0 1 1 0 1 vs targets 0 1 0 0 0 -> 3/5 right.
  const Tensor x = tensor({{3, 1}, {0, 2}, {1, 4}, {5, 0}, {0, 1}});
  const Tensor y = ints({0, 1, 0, 0, 0});
  data::DataLoader loader(x, y, {.batch_size = 2, .progress = ProgressMode::Off});
  bool grad_was_on = false;
  Tensor w = ones({1}).requires_grad_();
  const auto forward = [&](const Tensor& in) {
    grad_was_on = grad_was_on || GradMode::is_enabled();
    return in * w;
  };
  // The batch mean of the first logit: a sample-weighted average over batches of 2, 2 and 1
  // must equal the plain mean over all samples, (3 + 0 + 1 + 5 + 0) / 5.
  const auto loss = [](const Tensor& out, const Tensor&) { return out.select(1, 0).mean(); };
  const metrics::Evaluation r = metrics::evaluate(loader, forward, loss);
  BOOST_TEST(!grad_was_on);
  BOOST_TEST(GradMode::is_enabled());  // restored afterwards
  BOOST_TEST(r.samples == 5);
  BOOST_TEST(r.accuracy == 0.6, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r.loss == 1.8, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(metrics::evaluate(loader, forward).loss == 0.0);
}
