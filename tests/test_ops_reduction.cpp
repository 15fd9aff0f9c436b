// Reductions: values against hand-computed and closed forms (including logsumexp at +-1e4 and
// variance at a large offset), gradients (prod with zeros, max ties, norm at 0), refusal of
// empty reductions, non-differentiable argmax, and thread-count-independent results.
#define BOOST_TEST_MODULE ops_reduction
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <functional>
#include <limits>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
Tensor f64(std::initializer_list<double> v, const Shape& shape = {}) {
  Tensor t = tensor(v, kFloat64);
  return shape.empty() ? t : t.reshape(shape);
}
Tensor leaf(std::initializer_list<double> v, const Shape& shape = {}) {
  return f64(v, shape).detach().requires_grad_();
}
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
void check_close(const std::vector<double>& got, const std::vector<double>& want,
                 double rtol = 1e-12, double atol = 1e-14) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]),
               "element " << i << ": got " << got[i] << ", want " << want[i]);
}
const double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

BOOST_AUTO_TEST_CASE(prod_values_shapes_and_dtypes) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(vec(prod(x)), {720});
  check_close(vec(prod(x, {1})), {6, 120});
  check_close(vec(prod(x, {0})), {4, 10, 18});
  BOOST_TEST(prod(x, {-1}, true).shape() == Shape({2, 1}));
  BOOST_TEST(prod(x).dim() == 0);
  const Tensor ints = tensor({2, 3, 4}, kInt64);
  BOOST_TEST(prod(ints).dtype() == kInt64);
  BOOST_TEST(prod(ints).item<std::int64_t>() == 24);
  BOOST_TEST(prod(tensor({2, 3}, kUInt8)).dtype() == kInt64);       // no uint8 overflow
  check_close(vec(prod(zeros({0, 3}, kFloat64), {0})), {1, 1, 1});  // empty product is 1
  check_close(vec(prod(x.t(), {0})), {6, 120});                     // strided input
}

BOOST_AUTO_TEST_CASE(prod_gradient_with_and_without_zeros) {
  Tensor x = leaf({2, 3, 4});
  prod(x).backward();
  check_close(vec(x.grad()), {12, 8, 6});
  // One zero: only the zero entry gets a gradient (the product of the others).
  Tensor z = leaf({2, 0, 3});
  prod(z).backward();
  check_close(vec(z.grad()), {0, 6, 0});
  // Two zeros: every partial product contains a zero.
  Tensor zz = leaf({0, 5, 0});
  prod(zz).backward();
  check_close(vec(zz.grad()), {0, 0, 0});
  // Per block: zeros in one row do not affect the other.
  Tensor m = leaf({1, 0, 2, 3, 4, 5}, {2, 3});
  prod(m, {1}).sum().backward();
  check_close(vec(m.grad()), {0, 2, 0, 20, 15, 12});
  // Second derivative with one zero: d2/dx_i dx_j prod = product of the other entries.
  Tensor h = leaf({2, 0, 3});
  const Tensor g = grad({prod(h)}, {h}, {}, true, true)[0];
  const Tensor row1 = grad({g.select(0, 1)}, {h}, {}, true)[0];  // d(dP/dx1)/dx = [3, 0, 2]
  check_close(vec(row1), {3, 0, 2});
  const Tensor row0 = grad({g.select(0, 0)}, {h})[0];  // d(dP/dx0)/dx = [0, 3, 0]
  check_close(vec(row0), {0, 3, 0});
}

BOOST_AUTO_TEST_CASE(max_min_values_indices_and_shapes) {
  const Tensor x = f64({3, -1, 7, 7, 0, 2}, {2, 3});
  check_close(vec(max(x)), {7});
  check_close(vec(min(x)), {-1});
  check_close(vec(amax(x, {1})), {7, 7});
  check_close(vec(amin(x, {0})), {3, -1, 2});
  BOOST_TEST(amax(x, {0, 1}, true).shape() == Shape({1, 1}));
  const auto [v, i] = max(x, 1);
  check_close(vec(v), {7, 7});
  BOOST_TEST(i.dtype() == kInt64);
  BOOST_TEST(i.to_vector<std::int64_t>() == std::vector<std::int64_t>({2, 0}));
  const auto [mv, mi] = min(x, 0, true);
  BOOST_TEST(mv.shape() == Shape({1, 3}));
  check_close(vec(mv), {3, -1, 2});
  BOOST_TEST(mi.to_vector<std::int64_t>() == std::vector<std::int64_t>({0, 0, 1}));
  // Negative dim and a strided input.
  const auto [tv, ti] = max(x.t(), -1);
  check_close(vec(tv), {7, 0, 7});
  BOOST_TEST(ti.to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 1, 0}));
  // Integers keep their dtype.
  BOOST_TEST(max(tensor({4, 9, 2}, kInt64)).item<std::int64_t>() == 9);
  // 0-dim: the value itself, index 0.
  const auto [sv, si] = max(scalar_tensor(2.5, kFloat64), 0);
  check_close(vec(sv), {2.5});
  BOOST_TEST(si.item<std::int64_t>() == 0);
}

BOOST_AUTO_TEST_CASE(max_propagates_nan) {
  const Tensor x = f64({1, kNaN, 3, 5});
  BOOST_TEST(std::isnan(max(x).item()));
  BOOST_TEST(std::isnan(min(x).item()));
  const auto [v, i] = max(x, 0);
  BOOST_TEST(std::isnan(v.item()));
  BOOST_TEST(i.item<std::int64_t>() == 1);
  BOOST_TEST(argmin(x).item<std::int64_t>() == 1);
}

BOOST_AUTO_TEST_CASE(max_gradients_split_ties_or_follow_the_index) {
  // Full reduction and amax: ties share evenly.
  Tensor x = leaf({1, 3, 3, 2});
  max(x).backward();
  check_close(vec(x.grad()), {0, 0.5, 0.5, 0});
  Tensor y = leaf({4, 1, 4, 2, 2, 2}, {2, 3});
  amin(y, {1}).sum().backward();
  check_close(vec(y.grad()), {0, 1, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  // Along a dim with indices: the whole gradient goes to the first extreme.
  Tensor z = leaf({4, 1, 4, 2, 5, 5}, {2, 3});
  (max(z, 1).values * f64({10, 20})).sum().backward();
  check_close(vec(z.grad()), {10, 0, 0, 0, 20, 0});
  Tensor w = leaf({4, 1, 4, 2, 5, 5}, {2, 3});
  min(w, 0, true).values.sum().backward();
  check_close(vec(w.grad()), {0, 1, 1, 1, 0, 0});
}

BOOST_AUTO_TEST_CASE(argmax_argmin_values_and_no_grad) {
  const Tensor x = f64({3, 9, 7, 9, 0, -4}, {2, 3});
  BOOST_TEST(argmax(x).item<std::int64_t>() == 1);  // flattened, first of the ties
  BOOST_TEST(argmin(x).item<std::int64_t>() == 5);
  BOOST_TEST(argmax(x, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 0}));
  BOOST_TEST(argmin(x, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>({0, 1, 1}));
  BOOST_TEST(argmax(x, -1, true).shape() == Shape({2, 1}));
  BOOST_TEST(argmax(x).dtype() == kInt64);
  Tensor l = leaf({1, 2, 3});
  const Tensor a = argmax(l);
  BOOST_TEST(!a.requires_grad());
  BOOST_TEST(contains(error_of([&] { a.backward(); }), "does not require grad"));
  const auto [v, i] = max(l, 0);
  BOOST_TEST(v.requires_grad());
  BOOST_TEST(!i.requires_grad());
}

BOOST_AUTO_TEST_CASE(empty_reductions_are_refused_where_undefined) {
  const Tensor e = zeros({2, 0});
  BOOST_TEST(contains(error_of([&] { max(e); }), "amax: cannot reduce over an empty dimension"));
  BOOST_TEST(contains(error_of([&] { min(e); }), "amin: cannot reduce over an empty dimension"));
  BOOST_TEST(contains(error_of([&] { max(e, 1); }), "max: cannot reduce over an empty"));
  BOOST_TEST(contains(error_of([&] { min(e, -1); }), "min: cannot reduce over an empty"));
  BOOST_TEST(contains(error_of([&] { argmax(e); }), "argmax: cannot reduce"));
  BOOST_TEST(contains(error_of([&] { argmin(e, 1); }), "argmin: cannot reduce"));
  BOOST_TEST(contains(error_of([&] { amax(e, {1}); }), "[2, 0]"));
  // Reducing a non-empty dim of a tensor with an empty kept dim is fine: an empty result.
  BOOST_TEST(max(e, 0).values.shape() == Shape({0}));
  BOOST_TEST(amax(e, {0}).shape() == Shape({0}));
  // Where the result is defined, empty reductions give the identity.
  BOOST_TEST(sum(e).item() == 0.0);
  BOOST_TEST(prod(e).item() == 1.0);
  BOOST_TEST(logsumexp(e).item() == -std::numeric_limits<double>::infinity());
  BOOST_TEST(norm(e).item() == 0.0);
}

BOOST_AUTO_TEST_CASE(dim_errors_name_the_op) {
  const Tensor x = zeros({2, 3});
  BOOST_TEST(contains(error_of([&] { prod(x, {2}); }), "prod: dim 2 is out of range"));
  BOOST_TEST(contains(error_of([&] { amax(x, {0, -2}); }), "amax: dim repeats"));
  BOOST_TEST(contains(error_of([&] { max(x, 5); }), "max: dim 5 is out of range"));
  BOOST_TEST(contains(error_of([&] { cumsum(x, -3); }), "cumsum: dim -3"));
  BOOST_TEST(contains(error_of([&] { var(tensor({1, 2}, kInt64)); }), "var: expected a floating"));
  BOOST_TEST(
      contains(error_of([&] { norm(x, -2.0); }), "norm: p must be >= 0, kInf or -kInf, got -2"));
  BOOST_TEST(contains(error_of([&] { logsumexp(tensor({1, 2}, kInt64)); }), "logsumexp"));
}

BOOST_AUTO_TEST_CASE(var_and_std_closed_forms) {
  const Tensor x = f64({1, 2, 3, 4});
  check_close(vec(var(x)), {5.0 / 3.0});
  check_close(vec(var(x, {}, 0.0)), {1.25});
  check_close(vec(tg::std(x)), {std::sqrt(5.0 / 3.0)});
  check_close(vec(tg::std(x, {0}, 0.0, true)), {std::sqrt(1.25)});
  BOOST_TEST(tg::std(x, {0}, 0.0, true).shape() == Shape({1}));
  const Tensor m = f64({1, 2, 3, 2, 4, 6}, {2, 3});
  check_close(vec(var(m, {1})), {1, 4});
  check_close(vec(var(m, {0})), {0.5, 2, 4.5});
  // One sample with the unbiased estimate: 0/0, NaN like PyTorch.
  BOOST_TEST(std::isnan(var(f64({3})).item()));
  // Two-pass: a large common offset does not cancel the answer away.
  check_close(vec(var(x + 1e9)), {5.0 / 3.0}, 1e-9);
  const Tensor f = tensor({10001.f, 10002.f, 10003.f, 10004.f});
  check_close(vec(var(f)), {5.0 / 3.0}, 1e-5);
  // Gradient: d var / dx_i = 2 (x_i - mean) / (n - 1).
  Tensor l = leaf({1, 2, 3, 4});
  var(l).backward();
  check_close(vec(l.grad()), {-1, -1.0 / 3, 1.0 / 3, 1});
}

BOOST_AUTO_TEST_CASE(logsumexp_is_stable_at_extreme_logits) {
  check_close(vec(logsumexp(f64({1, 2, 3}))),
              {std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))});
  const double l2 = std::log(2.0);
  check_close(vec(logsumexp(f64({1e4, 1e4}))), {1e4 + l2});
  check_close(vec(logsumexp(f64({-1e4, -1e4}))), {-1e4 + l2});
  check_close(vec(logsumexp(f64({1e4, -1e4}))), {1e4});
  const Tensor rows = f64({1e4, 1e4 - 1, -1e4, -1e4 + 1}, {2, 2});
  const double l1 = std::log1p(std::exp(-1.0));
  check_close(vec(logsumexp(rows, {1})), {1e4 + l1, -1e4 + 1 + l1});
  BOOST_TEST(logsumexp(rows, {1}, true).shape() == Shape({2, 1}));
  // float32: every value finite and right to float precision.
  const Tensor r32 = logsumexp(rows.to(kFloat32), {1});
  BOOST_TEST(r32.dtype() == kFloat32);
  check_close(vec(r32), {1e4 + l1, -1e4 + 1 + l1}, 1e-6);
  // Infinities: -inf entries vanish, all -inf gives -inf, +inf gives +inf.
  const double inf = std::numeric_limits<double>::infinity();
  check_close(vec(logsumexp(f64({-inf, 0.0}))), {0.0});
  BOOST_TEST(logsumexp(f64({-inf, -inf})).item() == -inf);
  BOOST_TEST(logsumexp(f64({inf, 1.0})).item() == inf);
  BOOST_TEST(std::isnan(logsumexp(f64({kNaN, 1.0})).item()));
  // The gradient is softmax, finite at extreme logits.
  Tensor x = leaf({1e4, 1e4 - 1, -1e4});
  logsumexp(x).backward();
  const double p = 1.0 / (1.0 + std::exp(-1.0));
  check_close(vec(x.grad()), {p, 1 - p, 0.0}, 1e-12, 1e-15);
}

BOOST_AUTO_TEST_CASE(norm_values_and_gradients) {
  const Tensor v = f64({3, -4});
  check_close(vec(norm(v)), {5});
  check_close(vec(norm(v, 1.0)), {7});
  check_close(vec(norm(v, kInf)), {4});
  check_close(vec(norm(v, 3.0)), {std::cbrt(27.0 + 64.0)});
  check_close(vec(norm(v, 0.5)), {std::pow(std::sqrt(3.0) + 2.0, 2.0)});
  const Tensor m = f64({3, 4, 0, 0, 5, 12}, {3, 2});
  check_close(vec(norm(m, 2.0, {1})), {5, 0, 13});
  BOOST_TEST(norm(m, 2.0, {1}, true).shape() == Shape({3, 1}));
  check_close(vec(norm(m, 2.0, {0})), {std::sqrt(34.0), std::sqrt(160.0)});
  // Gradients: x / |x| for p = 2, sign(x) for p = 1, and 0 (not NaN) at the zero row.
  Tensor x = leaf({3, 4, 0, 0}, {2, 2});
  norm(x, 2.0, {1}).sum().backward();
  check_close(vec(x.grad()), {0.6, 0.8, 0, 0});
  Tensor y = leaf({3, -4});
  norm(y, 1.0).backward();
  check_close(vec(y.grad()), {1, -1});
  Tensor w = leaf({3, -4});
  norm(w, kInf).backward();
  check_close(vec(w.grad()), {0, -1});
  Tensor u = leaf({1, 2});
  norm(u, 3.0).backward();  // d/dx_i = x_i^2 / |x|_3^2
  const double n3 = std::cbrt(9.0);
  check_close(vec(u.grad()), {1 / (n3 * n3), 4 / (n3 * n3)});
}

BOOST_AUTO_TEST_CASE(cumsum_values_dtypes_and_gradient) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(vec(cumsum(x, 1)), {1, 3, 6, 4, 9, 15});
  check_close(vec(cumsum(x, 0)), {1, 2, 3, 5, 7, 9});
  check_close(vec(cumsum(x.t(), -1)), {1, 5, 2, 7, 3, 9});  // strided input
  BOOST_TEST(cumsum(tensor({1, 2, 3}, kUInt8), 0).dtype() == kInt64);
  BOOST_TEST(cumsum(tensor({200, 100}, kUInt8), 0).to_vector<std::int64_t>() ==
             std::vector<std::int64_t>({200, 300}));
  BOOST_TEST(cumsum(zeros({0, 3}), 0).shape() == Shape({0, 3}));
  // d/dx_j sum_i w_i cumsum(x)_i = sum_{i >= j} w_i: a reversed cumsum.
  Tensor l = leaf({1, 2, 3, 4});
  (cumsum(l, 0) * f64({1, 10, 100, 1000})).sum().backward();
  check_close(vec(l.grad()), {1111, 1110, 1100, 1000});
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_threads_or_layout) {
  manual_seed(11);
  const Tensor x = randn({400, 300}, kFloat64);
  const Tensor xt = x.t().contiguous().t();  // same values, column-major strides
  auto run = [&](const Tensor& t) {
    // Row blocks, column blocks (leading dims of a contiguous tensor) and strided blocks.
    return std::vector<Tensor>{amax(t, {1}),
                               amin(t, {0}),
                               max(t, 1).indices,
                               argmin(t, 0),
                               prod(t * 0.01 + 1.0, {0}),
                               logsumexp(t, {1}),
                               logsumexp(t, {0}),
                               logsumexp(t),
                               cumsum(t, 0),
                               cumsum(t, 1),
                               norm(t, 2.0, {0}),
                               var(t, {1}),
                               var(t, {0}, 0.0),
                               var(t)};
  };
  const int threads = get_num_threads();
  set_num_threads(1);
  const auto serial = run(x);
  set_num_threads(std::max(2, threads));
  const auto parallel = run(x);
  const auto strided = run(xt);
  set_num_threads(threads);
  for (std::size_t k = 0; k < serial.size(); ++k) {
    BOOST_TEST_CONTEXT("result " << k) {
      BOOST_TEST(equal(serial[k], parallel[k]));
      BOOST_TEST(allclose(serial[k], strided[k], 1e-12, 1e-12));
    }
  }
}

// ---- issue 16: NaN, ties and zeros (PyTorch 1.13's numbers) ----

namespace {
void check_same(const std::vector<double>& got, const std::vector<double>& want,
                double tol = 1e-14) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST((std::isnan(want[i])   ? std::isnan(got[i])
                : std::isinf(want[i]) ? got[i] == want[i]
                                      : std::abs(got[i] - want[i]) <= tol),
               "element " << i << ": got " << got[i] << ", want " << want[i]);
}
std::vector<double> grad_of(const std::function<Tensor(const Tensor&)>& f,
                            std::initializer_list<double> v, const Shape& shape = {}) {
  Tensor x = leaf(v, shape);
  f(x).sum().backward();
  return vec(x.grad());
}
}  // namespace

BOOST_AUTO_TEST_CASE(max_over_everything_sends_a_nan_result_to_the_nan_elements) {
  // PyTorch's evenly_distribute_backward: the NaNs share the gradient; ties share it too.
  check_same(grad_of([](const Tensor& x) { return max(x); }, {1, kNaN, 3, kNaN}), {0, 0.5, 0, 0.5});
  check_same(grad_of([](const Tensor& x) { return min(x); }, {1, kNaN, 3}), {0, 1, 0});
  check_same(grad_of([](const Tensor& x) { return max(x); }, {-kInf, -kInf}), {0.5, 0.5});
  // amax/amin (scale_grad_by_count): a block whose result is NaN gets NaN, others their share.
  check_same(grad_of([](const Tensor& x) { return amax(x, {1}); }, {1, kNaN, 3, 1, 2, 2}, {2, 3}),
             {kNaN, kNaN, kNaN, 0, 0.5, 0.5});
  // Along a dim: to the index of the first NaN (argmax/argmin pick it too).
  check_same(grad_of([](const Tensor& x) { return max(x, 1).values; },
                     {1, kNaN, 3, kNaN, 2, 1, 2, 0}, {2, 4}),
             {0, 1, 0, 0, 1, 0, 0, 0});
  BOOST_TEST(argmax(f64({1, kNaN, 3, kNaN})).item<std::int64_t>() == 1);
  BOOST_TEST(argmin(f64({1, kNaN, -3, kNaN})).item<std::int64_t>() == 1);
}

BOOST_AUTO_TEST_CASE(std_of_equal_values_has_zero_gradient) {
  // All equal: std 0 and gradient 0 (sqrt's 1/0 used to give NaN); an ordinary row as PyTorch.
  Tensor x = leaf({2, 2, 2, 1, 2, 4}, {2, 3});
  Tensor s = tg::std(x, {1});
  check_same(vec(s), {0, 1.5275252316519465});
  s.sum().backward();
  check_same(vec(x.grad()),
             {0, 0, 0, -0.43643578047198484, -0.10910894511799625, 0.5455447255899809});
  check_same(
      grad_of([](const Tensor& t) { return tg::std(t, {1}, 0.0); }, {2, 2, 2, 1, 2, 4}, {2, 3}),
      {0, 0, 0, -0.35634832254989923, -0.08908708063747484, 0.44543540318737396});
  check_same(grad_of([](const Tensor& t) { return var(t, {1}); }, {2, 2, 2, 1, 2, 4}, {2, 3}),
             {0, 0, 0, -1.3333333333333335, -0.3333333333333335, 1.6666666666666665});
  // One element: the unbiased estimate is 0/0 (NaN value and gradient), the population one 0.
  Tensor one = leaf({2.0, 1.0}, {2, 1});
  Tensor u = tg::std(one, {1});
  check_same(vec(u), {kNaN, kNaN});
  u.sum().backward();
  check_same(vec(one.grad()), {kNaN, kNaN});
  check_same(grad_of([](const Tensor& t) { return tg::std(t, {1}, 0.0); }, {2.0, 1.0}, {2, 1}),
             {0, 0});
  // correction > N - 1: PyTorch's raw N - correction in the gradient (here 2 / 0 = inf).
  check_same(grad_of([](const Tensor& t) { return var(t, {0}, 2.0); }, {1.0, 3.0}), {-kInf, kInf});
}

BOOST_AUTO_TEST_CASE(norm_gradients_at_zeros_and_ties_follow_pytorch) {
  const Shape s23 = {2, 2};
  auto g = [&](double p, std::initializer_list<double> v) {
    return grad_of([p](const Tensor& x) { return norm(x, p, {1}); }, v, s23);
  };
  // p < 1 at zero elements: 0, not NaN (issue 16), and an all-zero block 0.
  check_same(g(0.5, {0, 0, 0, 2}), {0, 0, 0, 1});
  check_same(g(0.5, {1, -1, -2, 2}), {2, -2, -2, 2});
  check_same(grad_of([](const Tensor& x) { return norm(x, 0.5); }, {0, 0, 0}), {0, 0, 0});
  for (double p : {1.0, 1.5, 2.0, 3.0, kInf}) check_same(g(p, {0, 0, 0, 2}), {0, 0, 0, 1});
  check_same(g(1.5, {1, -1, -2, 2}),
             {0.7937005259840997, -0.7937005259840997, -0.7937005259840998, 0.7937005259840998});
  check_same(g(3.0, {1, -1, -2, 2}),
             {0.6299605249474365, -0.6299605249474365, -0.6299605249474365, 0.6299605249474365});
  // inf / -inf: ties share the gradient; -inf is min |x|.
  check_same(g(kInf, {1, -1, -2, 2}), {0.5, -0.5, -0.5, 0.5});
  check_same(g(-kInf, {1, -1, -2, 2}), {0.5, -0.5, -0.5, 0.5});
  check_same(vec(norm(f64({1, 2, 0, 2}, s23), -kInf, {1})), {1, 0});
  check_same(g(-kInf, {0, 0, 0, 2}), {0, 0, 0, 0});
  // p = 0 counts non-zeros; its gradient is 0.
  check_same(vec(norm(f64({1, -1, 0, 2}, s23), 0.0, {1})), {2, 1});
  check_same(g(0.0, {1, -1, 0, 2}), {0, 0, 0, 0});
  BOOST_TEST(contains(error_of([] { norm(f64({1, 2}), -1.0); }), "p must be"));
}
