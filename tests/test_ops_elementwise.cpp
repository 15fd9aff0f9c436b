// Elementwise ops: forward values against std:: functions and closed forms (including the
// numerically hard ends), gradients at hand-computed points, non-differentiable ops refusing
// backward, comparisons, and error messages.
#define BOOST_TEST_MODULE ops_elementwise
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
Tensor f64(std::initializer_list<double> v) { return tensor(v, kFloat64); }
Tensor leaf(std::initializer_list<double> v) { return tensor(v, kFloat64).requires_grad_(); }
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
// d(sum(f(x)))/dx at x.
template <typename F>
std::vector<double> grad_of(F f, std::initializer_list<double> at) {
  Tensor x = leaf(at);
  f(x).sum().backward();
  return vec(x.grad());
}
void check_close(const std::vector<double>& got, const std::vector<double>& want,
                 double rtol = 1e-12, double atol = 1e-15) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]),
               "element " << i << ": got " << got[i] << ", want " << want[i]);
}
const double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

BOOST_AUTO_TEST_CASE(unary_math_matches_std_in_both_float_dtypes) {
  const std::vector<double> xs{0.3, 1.7, 2.5, 0.01, 4.0, 0.9};
  struct Case {
    const char* name;
    Tensor (*op)(const Tensor&);
    double (*ref)(double);
  };
  const Case cases[] = {
      {"abs", abs, [](double v) { return std::abs(v); }},
      {"expm1", expm1, [](double v) { return std::expm1(v); }},
      {"log1p", log1p, [](double v) { return std::log1p(v); }},
      {"sqrt", sqrt, [](double v) { return std::sqrt(v); }},
      {"rsqrt", rsqrt, [](double v) { return 1.0 / std::sqrt(v); }},
      {"square", square, [](double v) { return v * v; }},
      {"reciprocal", reciprocal, [](double v) { return 1.0 / v; }},
      {"sin", sin, [](double v) { return std::sin(v); }},
      {"cos", cos, [](double v) { return std::cos(v); }},
      {"erf", erf, [](double v) { return std::erf(v); }},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::vector<double> want;
      for (double v : xs) want.push_back(c.ref(v));
      const Tensor x = from_vector(xs);
      check_close(vec(c.op(x)), want);
      const Tensor y32 = c.op(x.to(kFloat32));
      BOOST_TEST(y32.dtype() == kFloat32);
      check_close(vec(y32), want, 1e-6, 1e-7);
      // Negative inputs where the domain allows.
      if (std::string(c.name) != "sqrt" && std::string(c.name) != "rsqrt" &&
          std::string(c.name) != "log1p")
        check_close(vec(c.op(-x)), [&] {
          std::vector<double> w;
          for (double v : xs) w.push_back(c.ref(-v));
          return w;
        }());
    }
  }
}

BOOST_AUTO_TEST_CASE(expm1_and_log1p_keep_precision_near_zero) {
  // exp(x) - 1 and log(1 + x) lose every digit here; the dedicated kernels keep them.
  const Tensor x = tensor({1e-10f, -3e-9f});
  check_close(vec(expm1(x)), {1e-10, -3e-9}, 1e-6);
  check_close(vec(log1p(x)), {1e-10, -3e-9}, 1e-6);
  BOOST_TEST(vec(exp(x) - 1.0)[0] != vec(expm1(x))[0]);  // the naive form really fails
}

BOOST_AUTO_TEST_CASE(integer_inputs_keep_or_promote_their_dtype) {
  const Tensor i = tensor({-3.0, 2.0, 0.0}, kInt64);
  BOOST_TEST(abs(i).dtype() == kInt64);
  check_close(vec(abs(i)), {3, 2, 0});
  BOOST_TEST(square(i).dtype() == kInt64);
  BOOST_TEST(sign(i).dtype() == kInt64);
  check_close(vec(sign(i)), {-1, 1, 0});
  BOOST_TEST(sqrt(abs(i)).dtype() == kFloat32);  // math on integers computes in float32
  check_close(vec(sqrt(abs(i))), {std::sqrt(3.0), std::sqrt(2.0), 0}, 1e-6);
  BOOST_TEST(equal(round(i), i));
}

BOOST_AUTO_TEST_CASE(activation_values_against_closed_forms) {
  const Tensor x = f64({-2.0, -0.5, 0.0, 0.5, 3.0, 7.0});
  check_close(vec(leaky_relu(x)), {-0.02, -0.005, 0, 0.5, 3, 7});
  check_close(vec(leaky_relu(x, 0.2)), {-0.4, -0.1, 0, 0.5, 3, 7});
  check_close(vec(relu6(x)), {0, 0, 0, 0.5, 3, 6});
  check_close(vec(hardtanh(x)), {-1, -0.5, 0, 0.5, 1, 1});
  check_close(vec(elu(x)), {std::exp(-2.0) - 1, std::exp(-0.5) - 1, 0, 0.5, 3, 7});
  check_close(vec(elu(x, 0.5)),
              {0.5 * (std::exp(-2.0) - 1), 0.5 * (std::exp(-0.5) - 1), 0, 0.5, 3, 7});
  std::vector<double> gelu_ref, silu_ref;
  for (double v : vec(x)) {
    gelu_ref.push_back(v * 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))));
    silu_ref.push_back(v / (1.0 + std::exp(-v)));
  }
  check_close(vec(gelu(x)), gelu_ref, 1e-14, 1e-15);
  check_close(vec(silu(x)), silu_ref, 1e-14, 1e-15);
  // gelu(1) = Phi(1), a tabulated value.
  check_close(vec(gelu(f64({1.0}))), {0.8413447460685429}, 1e-14);
  // Deep in the left tail gelu is tiny but not zero: x * Phi(x) with Phi(-10) = 7.6198530e-24.
  check_close(vec(gelu(f64({-10.0}))), {-7.619853024160527e-23}, 1e-10);
  check_close(vec(softplus(f64({0.0, 1.0, -1.0}))),
              {std::log(2.0), std::log1p(std::exp(1.0)), std::log1p(std::exp(-1.0))});
  check_close(vec(softplus(f64({1.0}), 2.0)), {std::log1p(std::exp(2.0)) / 2.0});
}

BOOST_AUTO_TEST_CASE(softplus_is_finite_and_exact_for_large_inputs) {
  // Above the threshold softplus(x) = x; below it log1p(exp(x)) must not overflow even when the
  // threshold is raised past exp's range.
  const Tensor big = tensor({1e4f, -1e4f, 30.0f, 100.0f});
  check_close(vec(softplus(big)), {1e4, 0.0, 30.0, 100.0}, 1e-7);
  const Tensor y = softplus(big, 1.0, 1e9);  // threshold never reached: the stable formula
  for (double v : vec(y)) BOOST_TEST(std::isfinite(v));
  check_close(vec(y), {1e4, 0.0, 30.0, 100.0}, 1e-7);
  check_close(vec(softplus(f64({800.0, -800.0}), 1.0, 1e9)), {800.0, 0.0});
  // Gradient: 1 above the threshold, sigmoid below.
  check_close(grad_of([](const Tensor& t) { return softplus(t); }, {1e4, 0.0, -1e4}),
              {1.0, 0.5, 0.0});
}

BOOST_AUTO_TEST_CASE(activation_gradients_at_hand_computed_points) {
  check_close(grad_of([](const Tensor& t) { return leaky_relu(t, 0.1); }, {-2, 3}), {0.1, 1});
  check_close(grad_of([](const Tensor& t) { return relu6(t); }, {-1, 3, 7}), {0, 1, 0});
  check_close(grad_of([](const Tensor& t) { return hardtanh(t, -2, 2); }, {-3, 1, 2.5}), {0, 1, 0});
  check_close(grad_of([](const Tensor& t) { return elu(t, 2.0); }, {-1, 1}),
              {2.0 * std::exp(-1.0), 1});
  check_close(grad_of([](const Tensor& t) { return gelu(t); }, {0.0}), {0.5});
  check_close(grad_of([](const Tensor& t) { return silu(t); }, {0.0}), {0.5});
  const double s = 1.0 / (1.0 + std::exp(-2.0));
  check_close(grad_of([](const Tensor& t) { return silu(t); }, {2.0}),
              {s * (1.0 + 2.0 * (1.0 - s))});
}

BOOST_AUTO_TEST_CASE(second_derivatives_of_fused_backwards) {
  // d2/dx2 of gelu = phi(x) (2 - x^2), of silu = s (1 - s) (2 + x (1 - 2 s)), of softplus = s
  // (1-s).
  auto second = [](auto f, double at) {
    Tensor x = leaf({at});
    auto g = grad({f(x).sum()}, {x}, {}, true, true)[0];
    return vec(grad({g.sum()}, {x})[0])[0];
  };
  const double x = 0.7, phi = std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi);
  const double s = 1.0 / (1.0 + std::exp(-x));
  BOOST_TEST(std::abs(second([](const Tensor& t) { return gelu(t); }, x) - phi * (2 - x * x)) <
             1e-12);
  BOOST_TEST(std::abs(second([](const Tensor& t) { return silu(t); }, x) -
                      s * (1 - s) * (2 + x * (1 - 2 * s))) < 1e-12);
  BOOST_TEST(std::abs(second([](const Tensor& t) { return softplus(t); }, x) - s * (1 - s)) <
             1e-12);
  // Piecewise linear: the first derivative is a constant of x, so it carries no graph back to x.
  Tensor xl = leaf({-x, x});
  BOOST_TEST(!grad({leaky_relu(xl, 0.3).sum()}, {xl}, {}, true, true)[0].requires_grad());
  BOOST_TEST(std::abs(second([](const Tensor& t) { return elu(t); }, -x) - std::exp(-x)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(pow_variants) {
  const Tensor a = f64({2.0, 9.0, 0.0, 4.0});
  const Tensor b = f64({3.0, 0.5, 0.0, -1.0});
  check_close(vec(pow(a, b)), {8.0, 3.0, 1.0, 0.25});
  check_close(vec(pow(2.0, b)), {8.0, std::sqrt(2.0), 1.0, 0.5});
  // Broadcasting [2, 1] ^ [3].
  const Tensor m = pow(f64({2.0, 3.0}).reshape({2, 1}), f64({0.0, 1.0, 2.0}));
  BOOST_TEST(m.shape() == Shape({2, 3}));
  check_close(vec(m), {1, 2, 4, 1, 3, 9});
  // d/da a^b = b a^(b-1), d/db a^b = a^b log a; at a = 0 the exponent's gradient is 0, not NaN.
  Tensor x = leaf({2.0, 0.0}), e = leaf({3.0, 2.0});
  pow(x, e).sum().backward();
  check_close(vec(x.grad()), {12.0, 0.0});
  check_close(vec(e.grad()), {8.0 * std::log(2.0), 0.0});
  Tensor p = leaf({1.5});
  pow(3.0, p).sum().backward();
  check_close(vec(p.grad()), {std::pow(3.0, 1.5) * std::log(3.0)});
}

BOOST_AUTO_TEST_CASE(maximum_minimum_values_nan_and_tie_gradients) {
  const Tensor a = f64({1.0, 5.0, -2.0});
  const Tensor b = f64({3.0, 2.0, -2.0});
  check_close(vec(maximum(a, b)), {3, 5, -2});
  check_close(vec(minimum(a, b)), {1, 2, -2});
  const Tensor bc = maximum(f64({0.0, 10.0}).reshape({2, 1}), f64({-1.0, 1.0, 11.0}));
  BOOST_TEST(bc.shape() == Shape({2, 3}));
  check_close(vec(bc), {0, 1, 11, 10, 10, 11});
  const auto n = vec(maximum(f64({kNaN, 1.0}), f64({0.0, kNaN})));
  BOOST_TEST((std::isnan(n[0]) && std::isnan(n[1])));
  // Ties split the gradient half/half.
  Tensor x = leaf({1.0, 5.0, -2.0}), y = leaf({3.0, 2.0, -2.0});
  maximum(x, y).sum().backward();
  check_close(vec(x.grad()), {0, 1, 0.5});
  check_close(vec(y.grad()), {1, 0, 0.5});
  Tensor u = leaf({4.0, 4.0}), w = leaf({4.0});
  minimum(u, w).sum().backward();  // w is broadcast: it collects two halves
  check_close(vec(u.grad()), {0.5, 0.5});
  check_close(vec(w.grad()), {1.0});
}

BOOST_AUTO_TEST_CASE(where_selects_broadcasts_and_routes_gradients) {
  const Tensor cond = tensor({1.0, 0.0, 1.0}, kUInt8);
  check_close(vec(where(cond, f64({1, 2, 3}), f64({-1, -2, -3}))), {1, -2, 3});
  check_close(vec(where(cond, f64({7}), 0.5)), {7, 0.5, 7});
  check_close(vec(where(cond, -1.0, f64({4, 5, 6}))), {-1, 5, -1});
  const Tensor grid = where(f64({1, -1}).reshape({2, 1}) > 0.0, f64({1, 2, 3}), f64({0}));
  BOOST_TEST(grid.shape() == Shape({2, 3}));
  check_close(vec(grid), {1, 2, 3, 0, 0, 0});
  Tensor a = leaf({1, 2, 3}), b = leaf({10});
  where(cond, a, b).sum().backward();
  check_close(vec(a.grad()), {1, 0, 1});
  check_close(vec(b.grad()), {1});
  BOOST_TEST(contains(error_of([] { where(f64({1}), f64({1}), f64({2})); }),
                      "where: condition must be a bool tensor"));
  BOOST_TEST(contains(error_of([&] { where(cond, f64({1, 2}), f64({1})); }), "where: shapes"));
}

BOOST_AUTO_TEST_CASE(clamp_bounds_gradient_mask_and_errors) {
  const Tensor x = f64({-2, -1, 0, 1, 2});
  check_close(vec(clamp(x, -1.0, 1.0)), {-1, -1, 0, 1, 1});
  check_close(vec(clamp(x, 0.5, std::nullopt)), {0.5, 0.5, 0.5, 1, 2});
  check_close(vec(clamp(x, std::nullopt, -1.5)), {-2, -1.5, -1.5, -1.5, -1.5});
  check_close(vec(clamp(x, 1.0, -1.0)), {-1, -1, -1, -1, -1});  // min > max: max wins
  BOOST_TEST(std::isnan(vec(clamp(f64({kNaN}), 0.0, 1.0))[0]));
  // The gradient passes where min <= x <= max, bounds included (PyTorch).
  check_close(grad_of([](const Tensor& t) { return clamp(t, -1.0, 1.0); }, {-2, -1, 0, 1, 2}),
              {0, 1, 1, 1, 0});
  const Tensor i = tensor({-3, 0, 3}, kInt64);
  BOOST_TEST(clamp(i, -1.0, 1.0).dtype() == kInt64);
  BOOST_TEST(clamp(i, -0.5, 0.5).dtype() == kFloat32);
  check_close(vec(clamp(i, -0.5, 0.5)), {-0.5, 0, 0.5});
  BOOST_TEST(contains(error_of([&] { clamp(x, std::nullopt, std::nullopt); }), "clamp: at least"));
}

BOOST_AUTO_TEST_CASE(sign_round_floor_values) {
  const Tensor x = f64({-2.5, -0.5, 0.0, 0.5, 1.5, 2.5, 2.7});
  check_close(vec(sign(x)), {-1, -1, 0, 1, 1, 1, 1});
  check_close(vec(round(x)), {-2, -0, 0, 0, 2, 2, 3});  // half to even
  check_close(vec(floor(x)), {-3, -1, 0, 0, 1, 2, 2});
  check_close(vec(ceil(x)), {-2, -0, 0, 1, 2, 3, 3});
  BOOST_TEST(vec(sign(f64({kNaN})))[0] == 0.0);  // PyTorch: (0 < x) - (x < 0)
}

BOOST_AUTO_TEST_CASE(non_differentiable_ops_refuse_backward) {
  Tensor x = leaf({-1.5, 0.5, 2.0});
  const std::vector<std::pair<const char*, Tensor>> results{
      {"sign", sign(x)},
      {"round", round(x)},
      {"floor", floor(x)},
      {"ceil", ceil(x)},
      {"eq", x == 0.5},
      {"lt", x < x * 2.0},
      {"logical_not", logical_not(x)},
  };
  for (const auto& entry : results) {
    const auto& name = entry.first;  // plain names: clang 14 cannot capture a structured binding
    const Tensor& r = entry.second;
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(!r.requires_grad());
      BOOST_TEST(!r.grad_fn());
      BOOST_TEST(contains(error_of([&] { r.sum().backward(); }), "does not require grad"));
    }
  }
  // Used inside a differentiable expression they contribute nothing, and the rest still works.
  (x * sign(x)).sum().backward();
  check_close(vec(x.grad()), {-1, 1, 1});
}

BOOST_AUTO_TEST_CASE(integer_tensors_refuse_requires_grad) {
  for (Dtype d : {kInt64, kUInt8}) {
    Tensor t = zeros({2}, d);
    BOOST_TEST(contains(error_of([&] { t.requires_grad_(); }), "only floating-point"));
    BOOST_TEST(!t.requires_grad());
  }
  // Comparison results are bool and so can never require grad.
  Tensor c = f64({1, 2}) > 1.0;
  BOOST_TEST(c.dtype() == kBool);
  BOOST_CHECK_THROW(c.requires_grad_(), Error);
}

BOOST_AUTO_TEST_CASE(comparisons_tensor_tensor_and_scalar) {
  const Tensor a = f64({1, 2, 3});
  const Tensor b = f64({3, 2, 1});
  auto u8 = [](std::initializer_list<double> v) { return tensor(v, kFloat64).to(kBool); };
  BOOST_TEST(equal(eq(a, b), u8({0, 1, 0})));
  BOOST_TEST(equal(ne(a, b), u8({1, 0, 1})));
  BOOST_TEST(equal(lt(a, b), u8({1, 0, 0})));
  BOOST_TEST(equal(le(a, b), u8({1, 1, 0})));
  BOOST_TEST(equal(gt(a, b), u8({0, 0, 1})));
  BOOST_TEST(equal(ge(a, b), u8({0, 1, 1})));
  BOOST_TEST(equal(a == b, eq(a, b)));
  BOOST_TEST(equal(a != b, ne(a, b)));
  BOOST_TEST(equal(a < b, lt(a, b)));
  BOOST_TEST(equal(a <= b, le(a, b)));
  BOOST_TEST(equal(a > b, gt(a, b)));
  BOOST_TEST(equal(a >= b, ge(a, b)));
  BOOST_TEST(equal(a > 1.5, u8({0, 1, 1})));
  BOOST_TEST(equal(a <= 2.0, u8({1, 1, 0})));
  BOOST_TEST(equal(a == 2.0, u8({0, 1, 0})));
  BOOST_TEST(equal(a != 2.0, u8({1, 0, 1})));
  BOOST_TEST(equal(2.0 < a, u8({0, 0, 1})));  // mirrored
  BOOST_TEST(equal(2.0 >= a, u8({1, 1, 0})));
  BOOST_TEST(equal(1.0 == a, u8({1, 0, 0})));
  // Broadcasting, mixed dtypes, and a fractional scalar against integers.
  const Tensor grid = f64({1, 2}).reshape({2, 1}) < f64({0, 1.5, 3});
  BOOST_TEST(grid.shape() == Shape({2, 3}));
  BOOST_TEST(equal(grid.reshape({6}), u8({0, 1, 1, 0, 0, 1})));
  const Tensor ints = tensor({1, 2, 3}, kInt64);
  BOOST_TEST(equal(ints == a, u8({1, 1, 1})));
  BOOST_TEST(equal(ints > 1.5, u8({0, 1, 1})));
  BOOST_TEST(equal(ints.to(kFloat32) > 2.0, u8({0, 0, 1})));
  // NaN compares unequal to everything.
  BOOST_TEST(equal(f64({kNaN}) == f64({kNaN}), u8({0})));
  BOOST_TEST(equal(f64({kNaN}) != f64({kNaN}), u8({1})));
  BOOST_TEST(contains(error_of([&] { eq(a, f64({1, 2})); }), "eq: shapes [3] and [2]"));
}

BOOST_AUTO_TEST_CASE(logical_ops) {
  auto u8 = [](std::initializer_list<double> v) { return tensor(v, kFloat64).to(kBool); };
  const Tensor p = u8({0, 0, 1, 1});
  const Tensor q = f64({0, 2.5, 0, -1});  // non-zero counts as true
  BOOST_TEST(equal(logical_and(p, q), u8({0, 0, 0, 1})));
  BOOST_TEST(equal(logical_or(p, q), u8({0, 1, 1, 1})));
  BOOST_TEST(equal(logical_xor(p, q), u8({0, 1, 1, 0})));
  BOOST_TEST(equal(logical_not(q), u8({1, 0, 1, 0})));
  BOOST_TEST(equal(logical_and(p, u8({1})), p));
}

BOOST_AUTO_TEST_CASE(broadcast_errors_name_the_op_and_shapes) {
  const Tensor a = zeros({2, 3}), b = zeros({4});
  BOOST_TEST(contains(error_of([&] { maximum(a, b); }), "maximum: shapes [2, 3] and [4]"));
  BOOST_TEST(contains(error_of([&] { pow(a, b); }), "pow: shapes [2, 3] and [4]"));
  BOOST_TEST(contains(error_of([&] { hardtanh(a, 1.0, -1.0); }), "hardtanh: min_val"));
  BOOST_TEST(contains(error_of([&] { softplus(a, 0.0); }), "softplus: beta"));
}

BOOST_AUTO_TEST_CASE(large_strided_inputs_match_contiguous_ones) {
  // Above the parallel grain and through the strided path: same values as the contiguous path.
  manual_seed(7);
  const Tensor base = randn({300, 500});
  const Tensor strided = base.t();
  const Tensor packed = strided.contiguous();
  BOOST_TEST(!strided.is_contiguous());
  BOOST_TEST(equal(gelu(strided), gelu(packed)));
  BOOST_TEST(equal(maximum(strided, 0.5 * packed), maximum(packed, 0.5 * packed)));
  BOOST_TEST(equal(where(strided > 0.0, strided, packed * 2.0),
                   where(packed > 0.0, packed, packed * 2.0)));
  BOOST_TEST(equal(strided < packed.slice(1, 0, 1), packed < packed.slice(1, 0, 1)));
}

namespace {
// Distance in units in the last place between two finite floats of the same sign.
std::int64_t ulps(float a, float b) {
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b) || std::signbit(a) != std::signbit(b)) return 1 << 30;
  return std::abs(static_cast<std::int64_t>(std::bit_cast<std::int32_t>(a)) -
                  std::bit_cast<std::int32_t>(b));
}
// Max ulp error of op over a dense float32 grid of [lo, hi] against ref computed in double.
template <typename Ref>
std::int64_t max_ulps(Tensor (*op)(const Tensor&), Ref ref, double lo, double hi) {
  const Tensor x = linspace(lo, hi, 2'000'001);  // about 1e-4 apart: every binade is sampled
  const auto xs = x.to_vector<float>();
  const auto ys = op(x).to_vector<float>();
  std::int64_t worst = 0;
  for (std::size_t i = 0; i < xs.size(); ++i)
    worst = std::max(worst, ulps(ys[i], static_cast<float>(ref(static_cast<double>(xs[i])))));
  return worst;
}
}  // namespace

BOOST_AUTO_TEST_CASE(float32_exp_tanh_sigmoid_are_accurate_to_two_ulp) {
  // The float kernels use vectorizable formulations instead of libm; they must stay within a
  // couple of ulp of the correctly rounded value over the whole useful range.
  BOOST_TEST(max_ulps(
                 exp, [](double v) { return std::exp(v); }, -87.0, 88.5) <= 2);
  BOOST_TEST(max_ulps(
                 exp, [](double v) { return std::exp(v); }, -1.0, 1.0) <= 1);
  BOOST_TEST(max_ulps(
                 tanh, [](double v) { return std::tanh(v); }, -10.0, 10.0) <= 2);
  BOOST_TEST(max_ulps(
                 tanh, [](double v) { return std::tanh(v); }, -0.5, 0.5) <= 2);
  BOOST_TEST(max_ulps(
                 sigmoid, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, -80.0, 80.0) <= 2);
  // Tiny inputs: tanh(x) = x and e^x = 1 + x to float precision.
  BOOST_TEST(max_ulps(
                 tanh, [](double v) { return std::tanh(v); }, -1e-3, 1e-3) <= 1);
  // Special values.
  const float inf = std::numeric_limits<float>::infinity();
  const auto e = exp(tensor({inf, -inf, 0.0f, 100.0f, -110.0f, NAN})).to_vector<float>();
  BOOST_TEST(e[0] == inf);
  BOOST_TEST(e[1] == 0.0f);
  BOOST_TEST(e[2] == 1.0f);
  BOOST_TEST(e[3] == inf);  // overflows like std::exp
  BOOST_TEST(e[4] == 0.0f);
  BOOST_TEST(std::isnan(e[5]));
  const auto t = tanh(tensor({inf, -inf, -0.0f, 30.0f, NAN})).to_vector<float>();
  BOOST_TEST(t[0] == 1.0f);
  BOOST_TEST(t[1] == -1.0f);
  BOOST_TEST((t[2] == 0.0f && std::signbit(t[2])));
  BOOST_TEST(t[3] == 1.0f);
  BOOST_TEST(std::isnan(t[4]));
  const auto s = sigmoid(tensor({inf, -inf, 200.0f, -200.0f, NAN})).to_vector<float>();
  BOOST_TEST(s[0] == 1.0f);
  BOOST_TEST(s[1] == 0.0f);
  BOOST_TEST(s[2] == 1.0f);
  BOOST_TEST(s[3] == 0.0f);
  BOOST_TEST(std::isnan(s[4]));
  // float64 still goes through the C library: bit-equal to std::exp.
  BOOST_TEST(exp(scalar_tensor(0.7, kFloat64)).item() == std::exp(0.7));
}

BOOST_AUTO_TEST_CASE(scalar_operands_take_the_same_values_as_full_tensors) {
  // A one-element operand is passed to the kernels as a constant; results must match the
  // general broadcast path exactly.
  manual_seed(3);
  const Tensor x = randn({64, 33});
  const Tensor s = scalar_tensor(0.25), full = full_like(x, 0.25);
  const Tensor one = tensor({0.25f}).reshape({1, 1});
  BOOST_TEST(equal(maximum(x, s), maximum(x, full)));
  BOOST_TEST(equal(minimum(one, x), minimum(full, x)));
  BOOST_TEST(equal(pow(abs(x), s), pow(abs(x), full)));
  BOOST_TEST(equal(x - s, x - full));
  BOOST_TEST(equal(s / (abs(x) + 1.0), full / (abs(x) + 1.0)));
  BOOST_TEST(equal(x > s, x > full));
  BOOST_TEST(equal(s <= x, full <= x));
  const Tensor c = x > 0.0;
  BOOST_TEST(equal(where(c, x, s), where(c, x, full)));
  BOOST_TEST(equal(where(c, s, x), where(c, full, x)));
  BOOST_TEST(equal(where(c, s, -s), where(c, full, -full)));
  BOOST_TEST(equal(where(c, -1.0, 2.0 * x.t().contiguous().t()), where(c, -1.0, 2.0 * x)));
  // Both operands one element: the result is one element too.
  BOOST_TEST((maximum(s, one).shape() == Shape{1, 1}));
}

BOOST_AUTO_TEST_CASE(integer_pow_and_clamp_are_exact_and_never_overflow_a_cast) {
  const Tensor base = tensor({2, 3, -2, 10}, kInt64), e = tensor({10, 3, 3, 0}, kInt64);
  const Tensor p = pow(base, e);
  BOOST_TEST(p.dtype() == kInt64);
  BOOST_TEST(p.to_vector<std::int64_t>() == std::vector<std::int64_t>({1024, 27, -8, 1}));
  // 3^39 does not fit a double exactly; the integer path is exact.
  BOOST_TEST(pow(tensor({3}, kInt64), tensor({39}, kInt64)).item<std::int64_t>() ==
             4052555153018976267LL);
  BOOST_TEST(contains(error_of([&] { pow(base, tensor({-1}, kInt64)); }),
                      "pow: integers to negative integer powers"));
  // Bounds outside the dtype's range saturate instead of wrapping.
  const Tensor u = tensor({0, 100, 255}, kUInt8);
  BOOST_TEST(clamp(u, -5.0, 300.0).to_vector<std::uint8_t>() ==
             std::vector<std::uint8_t>({0, 100, 255}));
  BOOST_TEST(clamp(u, 300.0, std::nullopt).to_vector<std::uint8_t>() ==
             std::vector<std::uint8_t>({255, 255, 255}));
  const std::int64_t big = (std::int64_t{1} << 60) + 1;  // not representable in a double
  BOOST_TEST(
      clamp(from_vector(std::vector<std::int64_t>{big}), 0.0, std::nullopt).item<std::int64_t>() ==
      big);
}

// ---- issue 16: NaN, infinity and zero conventions (PyTorch 1.13's numbers) ----

namespace {
// NaN matches NaN; everything else exactly (these are all exact in PyTorch too).
void check_same(const std::vector<double>& got, const std::vector<double>& want) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST((std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i]),
               "element " << i << ": got " << got[i] << ", want " << want[i]);
}
}  // namespace

BOOST_AUTO_TEST_CASE(relu_family_keeps_nan_and_passes_its_gradient) {
  // relu(NaN) is NaN (it used to be 0, hiding the NaN); the gradient at NaN passes.
  Tensor x = leaf({kNaN, kInf, -kInf, 0.0, -2.0, 3.0});
  Tensor y = relu(x);
  check_same(vec(y), {kNaN, kInf, 0, 0, 0, 3});
  y.sum().backward();
  check_same(vec(x.grad()), {1, 1, 0, 0, 0, 1});
  // A NaN or inf gradient where the mask is 0 still gives 0 (a select, not a product).
  Tensor z = leaf({-2.0, 1.0});
  relu(z).backward(f64({kInf, kNaN}));
  check_same(vec(z.grad()), {0, kNaN});
  // relu6 / hardtanh: 0 on the bounds, passes at NaN.
  check_same(grad_of([](const Tensor& t) { return relu6(t); }, {kNaN, 0.0, 6.0, 3.0, kInf}),
             {1, 0, 0, 1, 0});
  check_same(grad_of([](const Tensor& t) { return hardtanh(t); }, {kNaN, -1.0, 1.0, 0.0}),
             {1, 0, 0, 1});
  // elu: 1 at NaN (PyTorch's x <= 0 test), alpha at 0; leaky_relu: the slope at NaN.
  check_same(grad_of([](const Tensor& t) { return elu(t, 0.5); }, {kNaN, 0.0, -kInf, kInf}),
             {1, 0.5, 0, 1});
  check_same(grad_of([](const Tensor& t) { return leaky_relu(t, 0.2); }, {kNaN, 0.0}), {0.2, 0.2});
}

BOOST_AUTO_TEST_CASE(abs_and_sign_at_nan_give_zero_like_pytorch) {
  check_same(vec(sign(f64({kNaN, -0.0, kInf, -kInf}))), {0, 0, 1, -1});
  check_same(grad_of([](const Tensor& t) { return abs(t); }, {kNaN, 0.0, -kInf}), {0, 0, -1});
}

BOOST_AUTO_TEST_CASE(maximum_with_nan_gives_both_operands_the_gradient) {
  for (bool is_max : {true, false}) {
    Tensor a = leaf({kNaN, 1.0, kNaN, 1.0, 2.0}), b = leaf({1.0, kNaN, kNaN, 1.0, 1.0});
    (is_max ? maximum(a, b) : minimum(a, b)).sum().backward();
    check_same(vec(a.grad()), {1, 1, 1, 0.5, is_max ? 1.0 : 0.0});
    check_same(vec(b.grad()), {1, 1, 1, 0.5, is_max ? 0.0 : 1.0});
  }
  // The losing side gets 0 even from an infinite gradient (PyTorch's masked_fill).
  Tensor a = leaf({2.0}), b = leaf({1.0});
  maximum(a, b).backward(f64({kInf}));
  check_same(vec(b.grad()), {0});
}

BOOST_AUTO_TEST_CASE(pow_at_zero_follows_pytorch_masks) {
  // 0^0: d/dx = 0 (b a^(b-1) would be 0 * inf), d/dy = 0. 0^-1: d/dy = inf * log 0 = -inf.
  Tensor x = leaf({0.0, 0.0, 0.0, -0.0, kNaN}), y = leaf({0.0, -1.0, 0.5, -1.0, 0.0});
  Tensor z = pow(x, y);
  check_same(vec(z), {1, kInf, 0, -kInf, 1});
  z.sum().backward();
  check_same(vec(x.grad()), {0, -kInf, kInf, -kInf, 0});
  check_same(vec(y.grad()), {0, -kInf, 0, kInf, kNaN});
  Tensor e = leaf({0.0, -2.0, 2.0});
  pow(0.0, e).sum().backward();
  check_same(vec(e.grad()), {0, -kInf, 0});
  // Scalar exponents: 0^0.5 has an infinite slope, x^0 none.
  check_same(grad_of([](const Tensor& t) { return pow(t, 0.5); }, {0.0}), {kInf});
  check_same(grad_of([](const Tensor& t) { return pow(t, 0.0); }, {0.0, kNaN}), {0, 0});
}

BOOST_AUTO_TEST_CASE(clamp_gradient_is_a_select_at_the_bounds_and_nan) {
  Tensor x = leaf({kNaN, 1.0, -1.0, 5.0});
  Tensor y = clamp(x, -1.0, 1.0);
  check_same(vec(y), {kNaN, 1, -1, 1});
  y.backward(f64({kInf, 2.0, 3.0, kInf}));
  check_same(vec(x.grad()), {0, 2, 3, 0});
}
