// Matrix products: bmm, addmm, outer and dot against hand-computed results and naive loops,
// their gradients, transposed operands, empty sizes, and error messages.
#define BOOST_TEST_MODULE ops_linalg
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <limits>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
Tensor f64(std::initializer_list<double> v, const Shape& shape = {}) {
  Tensor t = tensor(v, kFloat64);
  return shape.empty() ? t : t.reshape(shape);
}
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
void check_close(const std::vector<double>& got, const std::vector<double>& want,
                 double rtol = 1e-12, double atol = 1e-12) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]),
               "element " << i << ": got " << got[i] << ", want " << want[i]);
}
// Naive triple loop over [B, m, k] x [B, k, n], reading through at() (any strides).
std::vector<double> naive_bmm(const Tensor& a, const Tensor& b) {
  const auto B = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  std::vector<double> out;
  for (std::int64_t p = 0; p < B; ++p)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t l = 0; l < k; ++l) s += a.at({p, i, l}) * b.at({p, l, j});
        out.push_back(s);
      }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(bmm_matches_a_naive_loop) {
  const Tensor a = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3});
  const Tensor b = f64({1, 0, 0, 1, 1, 1, 2, -1, 0, 3, 1, 1}, {2, 3, 2});
  const Tensor y = bmm(a, b);
  BOOST_TEST(y.shape() == Shape({2, 2, 2}));
  // Batch 0 by hand: [1 2 3; 4 5 6] @ [1 0; 0 1; 1 1] = [4 5; 10 11].
  const auto yv = vec(y);
  check_close(std::vector<double>(yv.begin(), yv.begin() + 4), {4, 5, 10, 11});
  check_close(vec(y), naive_bmm(a, b));
  manual_seed(3);
  const Tensor p = randn({3, 5, 4}, kFloat64), q = randn({3, 6, 5}, kFloat64);
  // Transposed views go to BLAS as flags; values must agree with the naive loop.
  check_close(vec(bmm(p.transpose(1, 2), q.transpose(1, 2))),
              naive_bmm(p.transpose(1, 2), q.transpose(1, 2)));
  BOOST_TEST(bmm(zeros({0, 2, 3}), zeros({0, 3, 4})).shape() == Shape({0, 2, 4}));
  check_close(vec(bmm(ones({2, 2, 0}), ones({2, 0, 3}))), std::vector<double>(12, 0.0));
}

BOOST_AUTO_TEST_CASE(bmm_errors) {
  BOOST_TEST(contains(error_of([] {
                        bmm(zeros({2, 3}), zeros({3, 2}));
                      }),
                      "bmm: expected 3-D tensors, got [2, 3] and [3, 2]"));
  BOOST_TEST(contains(error_of([] {
                        bmm(zeros({2, 2, 3}), zeros({3, 3, 2}));
                      }),
                      "bmm: batch sizes differ"));
  BOOST_TEST(contains(error_of([] {
                        bmm(zeros({2, 2, 3}), zeros({2, 4, 2}));
                      }),
                      "bmm: cannot multiply [2, 2, 3] by [2, 4, 2] (3 != 4)"));
}

BOOST_AUTO_TEST_CASE(bmm_gradients) {
  Tensor a = f64({1, 2, 3, 4}, {1, 2, 2}).requires_grad_();
  Tensor b = f64({5, 6, 7, 8}, {1, 2, 2}).requires_grad_();
  bmm(a, b).sum().backward();
  // d/da = g @ b^T with g = ones: row sums of b; d/db = a^T @ g: column sums of a.
  check_close(vec(a.grad()), {11, 15, 11, 15});
  check_close(vec(b.grad()), {4, 4, 6, 6});
}

BOOST_AUTO_TEST_CASE(addmm_values_with_broadcast_input_and_scales) {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2});
  const Tensor b = f64({1, 1, 0, 1}, {2, 2});  // a @ b = [1 3; 3 7]
  check_close(vec(addmm(f64({10, 20}), a, b)), {11, 23, 13, 27});
  check_close(vec(addmm(f64({10, 20}, {2, 1}), a, b)), {11, 13, 23, 27});
  check_close(vec(addmm(scalar_tensor(1.0, kFloat64), a, b, 2.0, 0.5)), {2.5, 3.5, 3.5, 5.5});
  check_close(vec(addmm(f64({1, 1, 1, 1}, {2, 2}), a, b, -1.0, 3.0)), {2, 8, 8, 20});
  // beta = 0 ignores the input entirely: NaN there does not leak into the result.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  check_close(vec(addmm(f64({nan, nan}), a, b, 0.0)), {1, 3, 3, 7});
  // Transposed operands, and k = 0 (only beta * input remains).
  check_close(vec(addmm(f64({0}), a.t(), b.t())), vec(matmul(a.t(), b.t())));
  check_close(vec(addmm(f64({1, 2}), zeros({2, 0}, kFloat64), zeros({0, 2}, kFloat64), 3.0)),
              {3, 6, 3, 6});
  BOOST_TEST(addmm(zeros({3}), zeros({0, 2}), zeros({2, 3})).shape() == Shape({0, 3}));
  // float32 against the composed form on random data.
  manual_seed(5);
  const Tensor x = randn({7, 5}), w = randn({5, 9}), c = randn({9});
  BOOST_TEST(allclose(addmm(c, x, w, 0.5, 2.0), c * 0.5 + matmul(x, w) * 2.0, 1e-5, 1e-5));
}

BOOST_AUTO_TEST_CASE(addmm_gradients) {
  Tensor c = f64({0, 0, 0}).requires_grad_();
  Tensor a = f64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor b = f64({1, 0, 2, 0, 1, 3}, {2, 3}).requires_grad_();
  addmm(c, a, b, 0.5, 2.0).sum().backward();
  check_close(vec(c.grad()), {1, 1, 1});  // beta summed over the 2 broadcast rows
  // d/da = alpha * g @ b^T = 2 * row sums of b; d/db = alpha * a^T @ g = 2 * column sums of a.
  check_close(vec(a.grad()), {6, 8, 6, 8});
  check_close(vec(b.grad()), {8, 8, 8, 12, 12, 12});
}

BOOST_AUTO_TEST_CASE(addmm_errors) {
  const Tensor a = zeros({2, 3}), b = zeros({3, 4});
  BOOST_TEST(contains(error_of([&] {
                        addmm(zeros({4}), a, zeros({2, 4}));
                      }),
                      "addmm: cannot multiply [2, 3] by [2, 4] (3 != 2)"));
  BOOST_TEST(contains(error_of([&] { addmm(zeros({3}), a, b); }), "addmm"));
  BOOST_TEST(contains(error_of([&] {
                        addmm(zeros({1, 2, 4}), a, b);
                      }),
                      "does not broadcast to the result shape [2, 4]"));
  BOOST_TEST(contains(error_of([&] {
                        addmm(zeros({2, 4, 1}), a, b);
                      }),
                      "addmm: shapes [2, 4, 1] and [2, 4] cannot be broadcast"));
  BOOST_TEST(contains(error_of([&] { addmm(zeros({4}), zeros({3}), b); }),
                      "addmm: expected 2-D matrices"));
  BOOST_TEST(contains(error_of([&] { addmm(zeros({4}, kFloat64), a, b); }), "dtypes differ"));
  BOOST_TEST(contains(error_of([&] { addmm(zeros({4}, kInt64), a.to(kInt64), b.to(kInt64)); }),
                      "expected float32 or float64"));
}

BOOST_AUTO_TEST_CASE(outer_and_dot) {
  const Tensor u = f64({1, 2, 3}), v = f64({4, 5});
  const Tensor o = outer(u, v);
  BOOST_TEST(o.shape() == Shape({3, 2}));
  check_close(vec(o), {4, 5, 8, 10, 12, 15});
  check_close(vec(dot(u, f64({4, 5, 6}))), {32});
  BOOST_TEST(dot(u, u).dim() == 0);
  check_close(vec(dot(f64({1, 9, 2, 9, 3, 9}).slice(0, 0, 6, 2), u)), {14});  // strided
  Tensor a = f64({1, 2}).requires_grad_(), b = f64({3, 4, 5}).requires_grad_();
  outer(a, b).sum().backward();
  check_close(vec(a.grad()), {12, 12});
  check_close(vec(b.grad()), {3, 3, 3});
  BOOST_TEST(contains(error_of([&] { dot(u, v); }), "dot: lengths differ (3 vs 2)"));
  BOOST_TEST(contains(error_of([&] { dot(o, u); }), "dot: expected 1-D tensors, got [3, 2]"));
  BOOST_TEST(contains(error_of([&] { outer(o, u); }), "outer: expected 1-D tensors"));
  BOOST_TEST(contains(error_of([&] { mm(u, o); }), "mm: expected 2-D tensors"));
}
