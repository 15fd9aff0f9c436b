// nn-functional ops: forward values against hand computations and closed forms (including
// softmax / log_softmax / cross_entropy / bce_with_logits on logits of +-1e4), PyTorch's
// semantics of ignore_index, class weights and label smoothing, dropout statistics, batch_norm
// statistics and running-stat updates, both batch_norm backward paths, and the error messages.
#define BOOST_TEST_MODULE ops_nn_functional
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace F = tg::nn::functional;
using F::Reduction;

namespace {
Tensor f64(std::initializer_list<double> v, const Shape& shape = {}) {
  Tensor t = tensor(v, kFloat64);
  return shape.empty() ? t : t.reshape(shape);
}
Tensor leaf(std::initializer_list<double> v, const Shape& shape = {}) {
  return f64(v, shape).detach().requires_grad_();
}
Tensor labels(std::vector<std::int64_t> v, const Shape& shape = {}) {
  return from_vector(v, shape);
}
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
void check_close(const std::vector<double>& got, const std::vector<double>& want,
                 double rtol = 1e-12, double atol = 1e-12) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]),
               "element " << i << ": got " << got[i] << ", want " << want[i]);
}
bool all_finite(const Tensor& t) {
  for (double v : vec(t))
    if (!std::isfinite(v)) return false;
  return true;
}
double lse(const std::vector<double>& row) {
  double m = row[0], s = 0;
  for (double v : row) m = std::max(m, v);
  for (double v : row) s += std::exp(v - m);
  return m + std::log(s);
}
}  // namespace

// ---------------------------------------------------------------- linear

BOOST_AUTO_TEST_CASE(linear_values_shapes_and_gradients) {
  const Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  const Tensor w = leaf({1, 0, 0, 1, 1, 1}, {3, 2});
  const Tensor b = leaf({0.5, -1, 2});
  const Tensor y = F::linear(x, w, b);
  BOOST_TEST(y.shape() == Shape({2, 3}));
  check_close(vec(y), {1.5, 1, 5, 3.5, 3, 9});
  check_close(vec(F::linear(x, w)), {1, 2, 3, 3, 4, 7});
  y.sum().backward();
  check_close(vec(x.grad()), {2, 2, 2, 2});        // column sums of w
  check_close(vec(w.grad()), {4, 6, 4, 6, 4, 6});  // row sums of x
  check_close(vec(b.grad()), {2, 2, 2});
  // Batch dims and a 1-D input.
  BOOST_TEST(F::linear(zeros({4, 5, 2}, kFloat64), w, b).shape() == Shape({4, 5, 3}));
  check_close(vec(F::linear(f64({1, 2}), w.detach(), b.detach())), {1.5, 1, 5});
}

BOOST_AUTO_TEST_CASE(linear_matches_matmul_plus_bias_in_float32) {
  manual_seed(3);
  const Tensor x = randn({64, 100}), w = randn({30, 100}), b = randn({30});
  BOOST_TEST(allclose(F::linear(x, w, b), matmul(x, w.t()) + b, 1e-5, 1e-4));
  // A transposed (non-contiguous) input gives the same as its contiguous copy.
  const Tensor xt = randn({100, 64}).t();
  BOOST_TEST(allclose(F::linear(xt, w, b), F::linear(xt.contiguous(), w, b), 1e-6, 1e-5));
}

BOOST_AUTO_TEST_CASE(linear_errors_name_the_shapes) {
  const std::string e = error_of([] { F::linear(zeros({64, 784}), zeros({10, 100})); });
  BOOST_TEST((contains(e, "linear") && contains(e, "[64, 784]") && contains(e, "[10, 100]")));
  BOOST_TEST(contains(error_of([] {
                        F::linear(zeros({2, 3}), zeros({4, 3}), zeros({5}));
                      }),
                      "bias must have shape [4]"));
  BOOST_TEST(contains(error_of([] {
                        F::linear(zeros({2, 3}), zeros({4, 3}, kFloat64));
                      }),
                      "dtype"));
}

// ---------------------------------------------------------------- softmax

BOOST_AUTO_TEST_CASE(softmax_and_log_softmax_closed_forms) {
  const Tensor x = f64({1, 2, 3, 0, 0, 0}, {2, 3});
  const double z = std::exp(1) + std::exp(2) + std::exp(3);
  check_close(vec(F::softmax(x, 1)),
              {std::exp(1) / z, std::exp(2) / z, std::exp(3) / z, 1. / 3, 1. / 3, 1. / 3});
  check_close(vec(F::log_softmax(x, -1)), {1 - std::log(z), 2 - std::log(z), 3 - std::log(z),
                                           -std::log(3), -std::log(3), -std::log(3)});
  // Along dim 0: columns (1, 0), (2, 0), (3, 0).
  const auto col = vec(F::softmax(x, 0));
  for (int c = 0; c < 3; ++c) {
    const double a = c + 1.0;
    BOOST_TEST(std::abs(col[c] - std::exp(a) / (std::exp(a) + 1)) < 1e-14);
    BOOST_TEST(std::abs(col[3 + c] - 1 / (std::exp(a) + 1)) < 1e-14);
  }
  check_close(vec(F::softmax(scalar_tensor(5.0, kFloat64), 0)), {1});
  BOOST_TEST(contains(error_of([] { F::softmax(zeros({2}, kInt64), 0); }), "softmax"));
  BOOST_TEST(contains(error_of([] { F::log_softmax(zeros({2, 2}), 2); }), "log_softmax"));
}

BOOST_AUTO_TEST_CASE(softmax_on_huge_logits_is_finite_and_exact) {
  for (Dtype dt : {kFloat32, kFloat64}) {
    const Tensor x = tensor({1e4, -1e4, 0, 1e4, 1e4, -1e4}, dt).reshape({2, 3});
    const Tensor p = F::softmax(x, 1), lp = F::log_softmax(x, 1);
    BOOST_TEST(all_finite(p));
    BOOST_TEST(all_finite(lp));
    check_close(vec(p), {1, 0, 0, 0.5, 0.5, 0}, 1e-6, 1e-7);
    check_close(vec(lp), {0, -2e4, -1e4, -std::log(2), -std::log(2), -2e4 - std::log(2)}, 1e-6,
                1e-6);
  }
  // The gradient at saturation is finite too.
  const Tensor x = leaf({1e4, -1e4, 0});
  (F::log_softmax(x, 0) * f64({1, 2, 3})).sum().backward();
  check_close(vec(x.grad()), {1 - 6, 2, 3}, 1e-12, 1e-12);
}

// ---------------------------------------------------------------- cross entropy / nll

BOOST_AUTO_TEST_CASE(cross_entropy_class_indices_by_hand) {
  const Tensor z = leaf({1, 2, 3, 1, 1, 1}, {2, 3});
  const double l0 = lse({1, 2, 3}) - 3, l1 = std::log(3.0);
  check_close(vec(F::cross_entropy(z, labels({2, 0}), {.reduction = Reduction::None})), {l0, l1});
  check_close(vec(F::cross_entropy(z, labels({2, 0}), {.reduction = Reduction::Sum})), {l0 + l1});
  const Tensor loss = F::cross_entropy(z, labels({2, 0}));
  check_close(vec(loss), {(l0 + l1) / 2});
  loss.backward();
  // (softmax - onehot) / N
  const auto p = vec(F::softmax(z.detach(), 1));
  check_close(vec(z.grad()),
              {p[0] / 2, p[1] / 2, (p[2] - 1) / 2, (p[3] - 1) / 2, p[4] / 2, p[5] / 2});
  // Equal to nll_loss of log_softmax.
  BOOST_TEST(allclose(F::nll_loss(F::log_softmax(z, 1), labels({2, 0})), loss, 1e-12));
}

BOOST_AUTO_TEST_CASE(cross_entropy_on_huge_logits_is_finite_and_exact) {
  for (Dtype dt : {kFloat32, kFloat64}) {
    const Tensor z = tensor({1e4, -1e4, -1e4, 1e4}, dt).reshape({2, 2}).requires_grad_();
    const Tensor l = F::cross_entropy(z, labels({1, 1}), {.reduction = Reduction::None});
    check_close(vec(l), {2e4, 0}, 1e-6, 1e-6);
    const Tensor m = F::cross_entropy(z, labels({1, 1}));
    check_close(vec(m), {1e4}, 1e-6);
    m.backward();
    BOOST_TEST(all_finite(z.grad()));
    check_close(vec(z.grad()), {0.5, -0.5, 0, 0}, 1e-6, 1e-7);
    // Probability targets and bce_with_logits too.
    const Tensor soft = tensor({0.0, 1.0, 0.0, 1.0}, dt).reshape({2, 2});
    check_close(vec(F::cross_entropy(z.detach(), soft)), {1e4}, 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_ignore_index_weights_and_smoothing_follow_pytorch) {
  const Tensor z = f64({0.2, -1.0, 0.5, 1.5, 0.3, -0.7, 2.0, 0.1, -0.4, 0.0, 0.9, -1.2}, {4, 3});
  const std::vector<std::int64_t> t = {2, -100, 0, 1};
  const std::vector<double> w = {0.5, 2.0, 1.5};
  const auto lp = vec(F::log_softmax(z, 1));
  // ignore_index: the mean divides by the count (weight sum) of the kept samples only.
  double nll = 0, wsum = 0, smooth = 0;
  for (int i = 0; i < 4; ++i) {
    if (t[i] == -100) continue;
    nll += -w[t[i]] * lp[3 * i + t[i]];
    wsum += w[t[i]];
    for (int c = 0; c < 3; ++c) smooth += -w[c] * lp[3 * i + c];
  }
  const Tensor wt = f64({0.5, 2.0, 1.5});
  check_close(vec(F::cross_entropy(z, labels(t), {.weight = wt})), {nll / wsum});
  double plain = 0;
  for (int i : {0, 2, 3}) plain += -lp[3 * i + t[i]];
  check_close(vec(F::cross_entropy(z, labels(t))), {plain / 3});
  // Label smoothing, PyTorch's formula: (1 - e) * nll + e / C * sum_c -w_c lp_c, both
  // normalized by the kept weight sum for the mean.
  const double e = 0.3;
  const double want = (1 - e) * nll / wsum + e / 3 * smooth / wsum;
  check_close(vec(F::cross_entropy(z, labels(t), {.label_smoothing = e, .weight = wt})), {want});
  // Per-sample (none): the ignored sample is 0.
  const auto none = vec(F::cross_entropy(z, labels(t), {.reduction = Reduction::None}));
  BOOST_TEST(none[1] == 0.0);
  BOOST_TEST(std::abs(none[0] + lp[2]) < 1e-12);
  // All samples ignored: the mean is 0 / 0 = NaN, as in PyTorch.
  BOOST_TEST(std::isnan(F::cross_entropy(z, labels({-100, -100, -100, -100})).item()));
}

BOOST_AUTO_TEST_CASE(cross_entropy_probability_targets) {
  const Tensor z = f64({0.2, -1.0, 0.5, 1.5, 0.3, -0.7}, {2, 3});
  // One-hot probabilities give the class-index loss.
  const Tensor onehot = f64({0, 0, 1, 1, 0, 0}, {2, 3});
  BOOST_TEST(allclose(F::cross_entropy(z, onehot), F::cross_entropy(z, labels({2, 0})), 1e-12));
  // Soft targets with weights and smoothing: -sum_c w_c q_c lp_c, mean over samples.
  const std::vector<double> q = {0.1, 0.3, 0.6, 0.5, 0.5, 0.0}, w = {1.0, 2.0, 0.5};
  const auto lp = vec(F::log_softmax(z, 1));
  const double e = 0.2;
  double total = 0;
  for (int i = 0; i < 2; ++i)
    for (int c = 0; c < 3; ++c) total += -w[c] * ((1 - e) * q[3 * i + c] + e / 3) * lp[3 * i + c];
  check_close(vec(F::cross_entropy(z, f64({0.1, 0.3, 0.6, 0.5, 0.5, 0.0}, {2, 3}),
                                   {.label_smoothing = e, .weight = f64({1.0, 2.0, 0.5})})),
              {total / 2});
}

BOOST_AUTO_TEST_CASE(cross_entropy_gradient_reaches_probability_targets) {
  // d loss / d P[s, c] = -(1 - eps) * w[c] * log_softmax(z)[s, c] / N for the mean.
  const Tensor z = f64({0.2, -1.0, 0.5, 1.5, 0.3, -0.7}, {2, 3});
  const Tensor q = leaf({0.1, 0.3, 0.6, 0.5, 0.5, 0.0}, {2, 3});
  F::cross_entropy(z, q, {.label_smoothing = 0.2, .weight = f64({1.0, 2.0, 0.5})}).backward();
  const auto lp = vec(F::log_softmax(z, 1));
  const std::vector<double> w = {1.0, 2.0, 0.5};
  std::vector<double> want(6);
  for (int i = 0; i < 6; ++i) want[i] = -(1 - 0.2) * w[i % 3] * lp[i] / 2;
  check_close(vec(q.grad()), want);
}

BOOST_AUTO_TEST_CASE(cross_entropy_spatial_and_unbatched_inputs) {
  // [N, C, d]: class dim 1, one loss per (n, d).
  const Tensor z = f64({1, 2, 3, 4, 0, 0, 0, 0, 5, 1, 2, 3}, {2, 2, 3});
  const auto l =
      vec(F::cross_entropy(z, labels({0, 1, 1, 1, 0, 0}, {2, 3}), {.reduction = Reduction::None}));
  check_close(l, {lse({1, 4}) - 1, lse({2, 0}) - 0, lse({3, 0}) - 0, lse({0, 1}) - 1,
                  lse({0, 2}) - 0, lse({5, 3}) - 5});
  const Tensor one = F::cross_entropy(f64({1, 2, 3}), labels({1}).reshape({}));
  BOOST_TEST(one.dim() == 0);
  check_close(vec(one), {lse({1, 2, 3}) - 2});
}

BOOST_AUTO_TEST_CASE(cross_entropy_double_backward_matches_hessian) {
  // d/dz of <grad, v> is the softmax Hessian times v: p * v - p * (p . v), divided by N.
  const Tensor z = leaf({0.3, -0.2, 1.1}, {1, 3});
  const Tensor loss = F::cross_entropy(z, labels({1}));
  const Tensor g = grad({loss}, {z}, {}, true, true)[0];
  const Tensor v = f64({1.0, -2.0, 0.5}, {1, 3});
  const Tensor hv = grad({(g * v).sum()}, {z})[0];
  const auto p = vec(F::softmax(z.detach(), 1));
  const double pv = p[0] * 1.0 + p[1] * -2.0 + p[2] * 0.5;
  check_close(vec(hv), {p[0] * (1.0 - pv), p[1] * (-2.0 - pv), p[2] * (0.5 - pv)}, 1e-10, 1e-12);
  BOOST_TEST(gradgradcheck(
      [](const std::vector<Tensor>& x) {
        return F::cross_entropy(x[0], labels({1, 0}), {.label_smoothing = 0.1});
      },
      {randn({2, 3}, kFloat64).requires_grad_()}));
}

BOOST_AUTO_TEST_CASE(cross_entropy_and_nll_reject_bad_targets) {
  const Tensor z = zeros({3, 4});
  std::string e = error_of([&] { F::cross_entropy(z, labels({0, 7, 1})); });
  BOOST_TEST((contains(e, "cross_entropy") && contains(e, "7") && contains(e, "4 classes")));
  e = error_of([&] { F::cross_entropy(z, labels({0, -1, 1})); });
  BOOST_TEST((contains(e, "cross_entropy") && contains(e, "-1")));
  e = error_of([&] { F::cross_entropy(z, labels({0, 1})); });
  BOOST_TEST((contains(e, "cross_entropy") && contains(e, "[3]") && contains(e, "[2]")));
  e = error_of([&] { F::cross_entropy(z, zeros({3}, kUInt8)); });
  BOOST_TEST((contains(e, "cross_entropy") && contains(e, "uint8")));
  e = error_of([&] { F::cross_entropy(z, zeros({3, 5})); });
  BOOST_TEST((contains(e, "cross_entropy") && contains(e, "[3, 5]")));
  e = error_of([&] { F::cross_entropy(z, labels({0, 1, 2}), {.weight = ones({3})}); });
  BOOST_TEST(contains(e, "weight must have shape [4]"));
  e = error_of([&] { F::cross_entropy(z, zeros({3, 4}), {.ignore_index = 0}); });
  BOOST_TEST(contains(e, "ignore_index"));
  e = error_of([&] { F::nll_loss(z, labels({0, 4, 1})); });
  BOOST_TEST((contains(e, "nll_loss") && contains(e, "4")));
  e = error_of([&] { F::nll_loss(z, zeros({3, 4})); });
  BOOST_TEST((contains(e, "nll_loss") && contains(e, "int64")));
}

BOOST_AUTO_TEST_CASE(nll_loss_values) {
  const Tensor lp = leaf({-0.5, -1.0, -2.0, -0.1, -3.0, -0.7}, {2, 3});
  check_close(vec(F::nll_loss(lp, labels({2, 0}))), {(2.0 + 0.1) / 2});
  const Tensor w = f64({2.0, 1.0, 4.0});
  const Tensor l = F::nll_loss(lp, labels({2, 0}), Reduction::Mean, -100, w);
  check_close(vec(l), {(4 * 2.0 + 2 * 0.1) / 6});
  l.backward();
  check_close(vec(lp.grad()), {0, 0, -4.0 / 6, -2.0 / 6, 0, 0});
  check_close(vec(F::nll_loss(lp, labels({1, 1}), Reduction::None, 1)), {0, 0});
}

// ---------------------------------------------------------------- regression losses

BOOST_AUTO_TEST_CASE(mse_l1_huber_values) {
  const Tensor x = f64({1, 2, 3}), t = f64({0, 2, 5});
  check_close(vec(F::mse_loss(x, t)), {5.0 / 3});
  check_close(vec(F::mse_loss(x, t, Reduction::Sum)), {5});
  check_close(vec(F::l1_loss(x, t)), {1.0});
  check_close(vec(F::l1_loss(x, t, Reduction::None)), {1, 0, 2});
  check_close(vec(F::huber_loss(x, t, Reduction::None)), {0.5, 0, 1.5});
  check_close(vec(F::huber_loss(x, t, Reduction::None, 2.0)), {0.5, 0, 2});
  // Gradients: l1 gives sign (0 at a tie); huber clamps the difference at +-delta.
  const Tensor xl = leaf({1, 2, 3});
  F::l1_loss(xl, t, Reduction::Sum).backward();
  check_close(vec(xl.grad()), {1, 0, -1});
  const Tensor xh = leaf({1, 2, 3});
  F::huber_loss(xh, f64({0, 2.5, 5}), Reduction::Sum, 0.8).backward();
  check_close(vec(xh.grad()), {0.8, -0.5, -0.8});
  BOOST_TEST(contains(error_of([&] { F::huber_loss(x, t, Reduction::Mean, 0.0); }), "delta"));
  BOOST_TEST(contains(error_of([&] { F::mse_loss(x, f64({1, 2})); }), "mse_loss"));
  BOOST_TEST(std::isnan(F::mse_loss(zeros({0}), zeros({0})).item()));  // empty mean, as PyTorch
}

BOOST_AUTO_TEST_CASE(binary_cross_entropy_values_and_clamping) {
  const Tensor p = leaf({0.8, 0.3}), y = f64({1, 0});
  const Tensor l = F::binary_cross_entropy(p, y);
  check_close(vec(l), {-(std::log(0.8) + std::log(0.7)) / 2});
  l.backward();
  check_close(vec(p.grad()), {-1 / 0.8 / 2, 1 / 0.7 / 2});
  // p exactly 0 or 1 against the wrong label: each log clamps at -100, like PyTorch.
  const Tensor edge = leaf({0.0, 1.0});
  const Tensor le = F::binary_cross_entropy(edge, y);
  check_close(vec(le), {100});
  le.backward();
  BOOST_TEST(all_finite(edge.grad()));
  check_close(vec(F::binary_cross_entropy(f64({0.8, 0.3}), y, Reduction::None, f64({2, 3}))),
              {-2 * std::log(0.8), -3 * std::log(0.7)});
  const std::string e = error_of([] { F::binary_cross_entropy(f64({0.5, 1.5}), f64({0, 1})); });
  BOOST_TEST((contains(e, "binary_cross_entropy") && contains(e, "1.5")));
}

BOOST_AUTO_TEST_CASE(bce_with_logits_stable_values_and_pos_weight) {
  for (Dtype dt : {kFloat32, kFloat64}) {
    const Tensor x = tensor({1e4, -1e4, 0}, dt).requires_grad_();
    const Tensor y = tensor({0, 1, 1}, dt);
    const Tensor l = F::binary_cross_entropy_with_logits(x, y, Reduction::None);
    BOOST_TEST(all_finite(l));
    check_close(vec(l), {1e4, 1e4, std::log(2)}, 1e-6, 1e-6);
    l.sum().backward();
    check_close(vec(x.grad()), {1, -1, -0.5}, 1e-6, 1e-7);  // sigmoid(x) - y
  }
  // Agrees with bce(sigmoid(x)) where that is accurate.
  const Tensor x = f64({-2.0, 0.3, 1.7}), y = f64({0.2, 1.0, 0.0});
  BOOST_TEST(allclose(F::binary_cross_entropy_with_logits(x, y),
                      F::binary_cross_entropy(sigmoid(x), y), 1e-10));
  // pos_weight multiplies the positive term: pw * y * log(1 + exp(-x)).
  const Tensor pw = f64({3.0});
  check_close(
      vec(F::binary_cross_entropy_with_logits(f64({0.5, 0.5}), f64({1, 0}), Reduction::None, pw)),
      {3 * std::log1p(std::exp(-0.5)), 0.5 + std::log1p(std::exp(-0.5))});
  BOOST_TEST(contains(error_of([] {
                        F::binary_cross_entropy_with_logits(f64({1, 2}), f64({1, 2, 3}));
                      }),
                      "binary_cross_entropy_with_logits"));
}

// ---------------------------------------------------------------- dropout

BOOST_AUTO_TEST_CASE(dropout_statistics_repeatability_and_eval) {
  const double p = 0.3;
  manual_seed(42);
  const Tensor x = ones({200000}).requires_grad_();
  const Tensor y = F::dropout(x, p, true);
  const auto v = vec(y);
  double zeros_count = 0, total = 0;
  for (double e : v) {
    total += e;
    if (e == 0.0)
      ++zeros_count;
    else
      BOOST_TEST_REQUIRE(std::abs(e - 1 / (1 - p)) < 1e-6);
  }
  BOOST_TEST(std::abs(zeros_count / v.size() - p) < 0.01);  // ~ 5 sigma
  BOOST_TEST(std::abs(total / v.size() - 1.0) < 0.015);     // the mean is preserved
  y.sum().backward();
  BOOST_TEST(allclose(x.grad(), y.detach()));  // g * mask * scale
  // The same seed draws the same mask; another draw differs.
  manual_seed(42);
  BOOST_TEST(equal(F::dropout(x.detach(), p, true), y.detach()));
  BOOST_TEST(!equal(F::dropout(x.detach(), p, true), y.detach()));
  // Eval and p == 0 are the identity; p == 1 gives zeros.
  BOOST_TEST(F::dropout(x, p, false).is_same(x));
  BOOST_TEST(F::dropout(x, 0.0, true).is_same(x));
  BOOST_TEST(vec(F::dropout(x, 1.0, true).sum())[0] == 0.0);
  BOOST_TEST(contains(error_of([&] { F::dropout(x, 1.5, true); }), "dropout"));
  BOOST_TEST(contains(error_of([&] { F::dropout(x, -0.1, false); }), "-0.1"));
}

// ---------------------------------------------------------------- batch_norm

BOOST_AUTO_TEST_CASE(batch_norm_training_values_and_running_stats) {
  // Channel 0: 1, 3, 5 (mean 3, biased var 8/3); channel 1: 2, 6, 10 (mean 6, var 32/3).
  const Tensor x = f64({1, 2, 3, 6, 5, 10}, {3, 2});
  const Tensor rm = zeros({2}, kFloat64), rv = ones({2}, kFloat64);
  const Tensor w = f64({2, 0.5}), b = f64({1, -1});
  const double eps = 1e-5;
  const Tensor y = F::batch_norm(x, rm, rv, w, b, true, 0.1, eps);
  const double s0 = 1 / std::sqrt(8.0 / 3 + eps), s1 = 1 / std::sqrt(32.0 / 3 + eps);
  check_close(vec(y), {(1 - 3) * s0 * 2 + 1, (2 - 6) * s1 * 0.5 - 1, 1, -1, (5 - 3) * s0 * 2 + 1,
                       (10 - 6) * s1 * 0.5 - 1});
  // running = 0.9 * running + 0.1 * batch, with the unbiased variance (8/2 and 32/2).
  check_close(vec(rm), {0.3, 0.6});
  check_close(vec(rv), {0.9 + 0.1 * 4, 0.9 + 0.1 * 16});
  F::batch_norm(x, rm, rv, w, b, true, 0.5, eps);
  check_close(vec(rm), {0.5 * 0.3 + 0.5 * 3, 0.5 * 0.6 + 0.5 * 6});
  // Eval uses the running statistics.
  const Tensor ye = F::batch_norm(x, f64({1, 2}), f64({4, 0.25}), w, b, false, 0.1, 0.0);
  check_close(vec(ye), {(1 - 1) / 2.0 * 2 + 1, (2 - 2) / 0.5 * 0.5 - 1, (3 - 1) / 2.0 * 2 + 1,
                        (6 - 2) / 0.5 * 0.5 - 1, (5 - 1) / 2.0 * 2 + 1, (10 - 2) / 0.5 * 0.5 - 1});
}

BOOST_AUTO_TEST_CASE(batch_norm_3d_normalizes_over_batch_and_length) {
  manual_seed(5);
  const Tensor x = randn({4, 3, 5}, kFloat64) * 3.0 + 2.0;
  const Tensor y = F::batch_norm(x, {}, {}, {}, {}, true);
  const Tensor m = y.mean({0, 2});
  const Tensor var = (y * y).mean({0, 2});
  for (double v : vec(m)) BOOST_TEST(std::abs(v) < 1e-12);
  for (double v : vec(var)) BOOST_TEST(std::abs(v - 1) < 1e-5);  // (var / (var + eps))
  // float32 agrees with float64.
  BOOST_TEST(
      allclose(F::batch_norm(x.to(kFloat32), {}, {}, {}, {}, true).to(kFloat64), y, 1e-4, 1e-5));
}

BOOST_AUTO_TEST_CASE(batch_norm_fused_and_composed_backward_agree) {
  manual_seed(9);
  const Tensor x = randn({6, 3, 2}, kFloat64).requires_grad_();
  const Tensor w = randn({3}, kFloat64).requires_grad_(), b = randn({3}, kFloat64).requires_grad_();
  const Tensor g = randn({6, 3, 2}, kFloat64);
  auto run = [&](bool create_graph) {
    const Tensor y = F::batch_norm(x, {}, {}, w, b, true);
    return grad({y}, {x, w, b}, {g}, false, create_graph);
  };
  const auto fused = run(false), composed = run(true);
  for (int i = 0; i < 3; ++i) BOOST_TEST(allclose(fused[i], composed[i].detach(), 1e-10, 1e-12));
  // The gradient w.r.t. x sums to zero per channel (the mean is subtracted).
  for (double v : vec(fused[0].sum({0, 2}))) BOOST_TEST(std::abs(v) < 1e-12);
}

BOOST_AUTO_TEST_CASE(batch_norm_errors) {
  BOOST_TEST(contains(error_of([] {
                        F::batch_norm(zeros({1, 3}), {}, {}, {}, {}, true);
                      }),
                      "more than 1 value per channel"));
  BOOST_TEST(contains(error_of([] {
                        F::batch_norm(zeros({4, 3}), {}, {}, {}, {}, false);
                      }),
                      "eval mode"));
  BOOST_TEST(contains(error_of([] {
                        F::batch_norm(zeros({4, 3}), {}, {}, ones({2}), {}, true);
                      }),
                      "weight must have shape [3]"));
  BOOST_TEST(
      contains(error_of([] { F::batch_norm(zeros({4}), {}, {}, {}, {}, true); }), "batch_norm"));
}

// ---- issue 16: every target ignored (PyTorch 1.13's numbers) ----

BOOST_AUTO_TEST_CASE(cross_entropy_with_every_target_ignored_has_zero_gradient) {
  // The mean is 0/0 = NaN, but the gradient is 0 (it was NaN everywhere): one all-padding
  // batch must not poison the weights. With class weights and label smoothing too.
  const std::initializer_list<double> z0 = {0.5, -1.0, 2.0, 1.5, 0.25, -0.5};
  const Tensor w = f64({0.2, 1.0, 3.0});
  const std::vector<F::CrossEntropyOptions> options = {
      {}, {.weight = w}, {.label_smoothing = 0.1}, {.label_smoothing = 0.1, .weight = w}};
  for (const auto& o : options) {
    Tensor z = leaf(z0, {2, 3});
    Tensor loss = F::cross_entropy(z, labels({-100, -100}), o);
    BOOST_TEST(std::isnan(loss.item()));
    loss.backward();
    check_close(vec(z.grad()), {0, 0, 0, 0, 0, 0}, 0, 0);
    // Second order too (create_graph): 0.
    Tensor z2 = leaf(z0, {2, 3});
    const auto g = grad({F::cross_entropy(z2, labels({-100, -100}), o)}, {z2}, {}, true, true);
    check_close(vec(g[0]), {0, 0, 0, 0, 0, 0}, 0, 0);
  }
  for (const Tensor& weight : {Tensor(), w}) {
    Tensor lp = leaf(z0, {2, 3});
    Tensor loss = F::nll_loss(lp, labels({-100, -100}), F::Reduction::Mean, -100, weight);
    BOOST_TEST(std::isnan(loss.item()));
    loss.backward();
    check_close(vec(lp.grad()), {0, 0, 0, 0, 0, 0}, 0, 0);
  }
  // One sample kept: PyTorch's values (the smoothing term is also divided by the kept count).
  Tensor z = leaf(z0, {2, 3});
  Tensor loss = F::cross_entropy(z, labels({2, -100}), {.label_smoothing = 0.1});
  check_close(vec(loss), {0.391311296657157});
  loss.backward();
  check_close(vec(z.grad()),
              {0.14195705880670337, 0.0057792399373541165, -0.14773629874405747, 0, 0, 0});
  // Samples that count but weigh 0 in total: NaN, as PyTorch (0 * inf).
  Tensor zw = leaf(z0, {2, 3});
  F::cross_entropy(zw, labels({0, 0}), {.weight = f64({0.0, 1.0, 1.0})}).backward();
  for (double v : vec(zw.grad())) BOOST_TEST(std::isnan(v));
}
