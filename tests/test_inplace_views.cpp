// In-place ops under autograd (issue 16, items 1, 2 and 9): tracked mul_/div_, in-place ops on
// views rewriting the base's history, and the writes PyTorch refuses (a view of a leaf that
// requires grad, memory that several elements share, partially overlapping operands).
// Expected values come from PyTorch 1.13 (LibTorch, float64) on the same inputs.
#define BOOST_TEST_MODULE inplace_views
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
Tensor vals(std::initializer_list<double> v, const Shape& shape = {}) {
  Tensor t = tensor(v, kFloat64);
  return shape.empty() ? t : t.reshape(shape).contiguous().detach();
}
Tensor X() { return vals({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_(); }
Tensor G() { return vals({0.5, -1, 2, 1.5, 0.25, -0.5}, {2, 3}); }
Tensor Y() { return vals({2, -1, 0.5, 3, 4, -2}, {2, 3}).requires_grad_(); }
Tensor row(std::initializer_list<double> v) { return vals(v).requires_grad_(); }
// Same shape and values (flattened in row-major order).
bool is(const Tensor& t, std::initializer_list<double> expected) {
  if (!t.defined()) return false;
  const auto got = t.to_vector<double>();
  const std::vector<double> want(expected);
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - want[i]) > 1e-9 * (1 + std::abs(want[i]))) return false;
  return true;
}
}  // namespace

// ---- item 1: tracked mul_ / div_ ----

BOOST_AUTO_TEST_CASE(mul_and_div_by_a_scalar_on_a_non_leaf) {
  auto x = X();
  auto a = x * 1.0;
  a.mul_(3.0);
  (a * 1.0).backward(G());
  BOOST_TEST(is(x.grad(), {1.5, -3, 6, 4.5, 0.75, -1.5}));
  BOOST_TEST(is(a, {3, 6, 9, 12, 15, 18}));
  auto x2 = X();
  auto b = x2 * 1.0;
  b.div_(2.0);
  (b * 1.0).backward(G());
  BOOST_TEST(is(x2.grad(), {0.25, -0.5, 1, 0.75, 0.125, -0.25}));
}

BOOST_AUTO_TEST_CASE(mul_by_a_tensor_whichever_operand_requires_grad) {
  {  // only self
    auto x = X();
    auto a = x * 1.0;
    a.mul_(Y().detach());
    (a * 1.0).backward(G());
    BOOST_TEST(is(x.grad(), {1, 1, 1, 4.5, 1, 1}));
  }
  {  // both
    auto x = X(), y = Y();
    auto a = x * 1.0;
    a.mul_(y);
    (a * 1.0).backward(G());
    BOOST_TEST(is(x.grad(), {1, 1, 1, 4.5, 1, 1}));
    BOOST_TEST(is(y.grad(), {0.5, -2, 6, 6, 1.25, -3}));
  }
  {  // only the other operand
    auto y = Y();
    auto a = X().detach().clone();
    a.mul_(y);
    BOOST_TEST(a.requires_grad());
    (a * 1.0).backward(G());
    BOOST_TEST(is(y.grad(), {0.5, -2, 6, 6, 1.25, -3}));
  }
  {  // a broadcast operand
    auto x = X(), y = row({2, -1, 0.5});
    auto a = x * 1.0;
    a.mul_(y);
    (a * 1.0).backward(G());
    BOOST_TEST(is(x.grad(), {1, 1, 1, 3, -0.25, -0.25}));
    BOOST_TEST(is(y.grad(), {6.5, -0.75, 3}));
  }
}

BOOST_AUTO_TEST_CASE(div_by_a_tensor_whichever_operand_requires_grad) {
  {
    auto x = X();
    auto a = x * 1.0;
    a.div_(Y().detach());
    (a * 1.0).backward(G());
    BOOST_TEST(is(x.grad(), {0.25, 1, 4, 0.5, 0.0625, 0.25}));
  }
  {
    auto x = X(), y = Y();
    auto a = x * 1.0;
    a.div_(y);
    (a * 1.0).backward(G());
    BOOST_TEST(is(x.grad(), {0.25, 1, 4, 0.5, 0.0625, 0.25}));
    BOOST_TEST(is(y.grad(), {-0.125, 2, -24, -2.0 / 3.0, -0.078125, 0.75}));
  }
  {
    auto y = Y();
    auto a = X().detach().clone();
    a.div_(y);
    (a * 1.0).backward(G());
    BOOST_TEST(is(y.grad(), {-0.125, 2, -24, -2.0 / 3.0, -0.078125, 0.75}));
  }
}

BOOST_AUTO_TEST_CASE(mul_and_div_by_self_fail_in_backward_as_in_pytorch) {
  // The other operand is saved and then overwritten: PyTorch refuses the backward too.
  for (int div = 0; div < 2; ++div) {
    auto x = X();
    auto a = x * 1.0;
    if (div)
      a.div_(a);
    else
      a.mul_(a);
    const auto msg = error_of([&] { (a * 1.0).backward(G()); });
    BOOST_TEST(contains(msg, div ? "div_: saved tensor 0" : "mul_: saved tensor 0"));
    BOOST_TEST(contains(msg, "modified by an in-place operation"));
  }
}

BOOST_AUTO_TEST_CASE(double_backward_through_mul_) {
  auto x = X(), y = Y();
  auto a = x * 1.0;
  a.mul_(y);
  auto gx = grad({(a * a).sum()}, {x}, {}, true, true)[0];
  (gx * G()).sum().backward();
  BOOST_TEST(is(x.grad(), {4, -2, 1, 27, 8, -4}));
  BOOST_TEST(is(y.grad(), {4, 8, 12, 72, 20, 24}));
}

BOOST_AUTO_TEST_CASE(gradcheck_of_tracked_in_place_ops) {
  auto inputs = [] {
    manual_seed(7);
    return std::vector<Tensor>{randn({2, 3}, kFloat64).requires_grad_(),
                               (rand({2, 3}, kFloat64) + 0.5).requires_grad_()};
  };
  std::function<Tensor(const std::vector<Tensor>&)> fns[] = {
      [](const std::vector<Tensor>& in) {
        auto a = in[0] * 1.0;
        a.mul_(in[1]);
        return a * 1.0;
      },
      [](const std::vector<Tensor>& in) {
        auto a = in[0] * 1.0;
        a.div_(in[1]);
        return a * a;
      },
      [](const std::vector<Tensor>& in) {
        auto a = in[0] * 1.0;
        a.div_(in[1][0]);
        a.add_(in[0], 0.5).sub_(in[1]).mul_(2.0);
        return a;
      },
  };
  for (const auto& f : fns) {
    BOOST_TEST(gradcheck(f, inputs()));
    BOOST_TEST(gradgradcheck(f, inputs()));
  }
}

// ---- item 2: in-place ops on views rebase the base's history ----

BOOST_AUTO_TEST_CASE(in_place_on_a_row_view_reaches_the_base) {
  auto x = X();
  auto a = x * 1.0;
  a.select(0, 1).mul_(2.0);
  BOOST_TEST(is(a, {1, 2, 3, 8, 10, 12}));
  (a * 1.0).backward(G());
  BOOST_TEST(is(x.grad(), {0.5, -1, 2, 3, 0.5, -1}));
  BOOST_TEST(a.grad_fn()->name() == "CopySlices");

  auto x2 = X(), y = row({2, -1, 0.5});
  auto b = x2 * 1.0;
  b.select(0, 0).mul_(y);
  (b * 1.0).backward(G());
  BOOST_TEST(is(x2.grad(), {1, 1, 1, 1.5, 0.25, -0.5}));
  BOOST_TEST(is(y.grad(), {0.5, -2, 6}));
}

BOOST_AUTO_TEST_CASE(the_modified_view_and_its_siblings_follow_the_base) {
  {  // the modified view itself, used afterwards
    auto x = X();
    auto y = vals({2, -1}, {2, 1}).requires_grad_();
    auto a = x * 1.0;
    auto v = a.slice(1, 0, 2);
    v.mul_(y);
    ((a * G()).sum() + (v * v).sum()).backward();
    BOOST_TEST(is(x.grad(), {9, 14, 2, 6.5, 9.75, -0.5}));
    BOOST_TEST(is(y.grad(), {18.5, -74.75}));
    BOOST_TEST(v.grad_fn()->name() == "as_strided");
  }
  {  // a view taken before the base was modified directly
    auto x = X();
    auto a = x * 1.0;
    auto v = a[0];
    a.mul_(2.0);
    (v * 1.0).backward(vals({1, 2, 3}));
    BOOST_TEST(is(x.grad(), {2, 4, 6, 0, 0, 0}));
  }
  {  // a sibling view taken before another view was modified
    auto x = X(), y = row({2, -1, 0.5});
    auto a = x * 1.0;
    auto v0 = a[0], v1 = a[1];
    v1.mul_(y);
    ((v0 * v0).sum() + (v1 * v1).sum() + (a * G()).sum()).backward();
    BOOST_TEST(is(x.grad(), {2.5, 3, 8, 35, 9.75, 2.75}));
    BOOST_TEST(is(y.grad(), {70, -48.75, 33}));
  }
}

BOOST_AUTO_TEST_CASE(views_of_views_transposes_and_chains) {
  {
    auto x = X(), z = row({3, -2});
    auto a = x * 1.0;
    a.t().select(0, 2).mul_(z);
    (a * a).sum().backward();
    BOOST_TEST(is(x.grad(), {2, 4, 54, 8, 10, 48}));
    BOOST_TEST(is(z.grad(), {54, -144}));
  }
  {
    auto x = X(), y = row({2, -1});
    auto a = x * 1.0;
    a.slice(0, 0, 2).select(1, 1).mul_(y);
    (a * G()).sum().backward();
    BOOST_TEST(is(x.grad(), {0.5, -2, 2, 1.5, -0.25, -0.5}));
    BOOST_TEST(is(y.grad(), {-2, 1.25}));
  }
  {
    auto x = X(), y = row({2, -1, 0.5});
    auto a = x * 1.0;
    a[0].mul_(2.0);
    a.mul_(3.0);
    a[1].add_(y);
    a[1].mul_(y);
    BOOST_TEST(is(a, {6, 12, 18, 28, -14, 9.25}));
    (a * G()).sum().backward();
    BOOST_TEST(is(x.grad(), {3, -6, 12, 9, -0.75, -0.75}));
    BOOST_TEST(is(y.grad(), {24, 3.25, -9.5}));
  }
  {  // reshape view, then a column
    auto x = X();
    auto a = x * 1.0;
    a.reshape({3, 2}).select(1, 0).mul_(vals({1, 2, 3}));
    BOOST_TEST(is(a, {1, 2, 6, 4, 15, 6}));
    (a * G()).sum().backward();
    BOOST_TEST(is(x.grad(), {0.5, -1, 4, 1.5, 0.75, -0.5}));
  }
}

BOOST_AUTO_TEST_CASE(fill_and_copy_through_views) {
  {
    auto x = X();
    auto a = x * 1.0;
    a[1].fill_(2.0);
    BOOST_TEST(is(a, {1, 2, 3, 2, 2, 2}));
    (a * 1.0).backward(G());
    BOOST_TEST(is(x.grad(), {0.5, -1, 2, 0, 0, 0}));
  }
  {  // a base that needed no grad gets history from the copied row
    auto y = row({2, -1, 0.5});
    auto a = zeros({2, 3}, kFloat64);
    a[0].copy_(y);
    BOOST_TEST(a.requires_grad());
    BOOST_TEST(!a.is_leaf());
    (a * a * G()).sum().backward();
    BOOST_TEST(is(y.grad(), {2, 2, 2}));
  }
  {  // untracked: plain writes
    auto a = ones({2, 3}, kFloat64);
    a[0].zero_();
    BOOST_TEST(is(a, {0, 0, 0, 1, 1, 1}));
    BOOST_TEST(!a.requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(double_backward_through_an_in_place_op_on_a_view) {
  auto x = X(), y = row({2, -1, 0.5});
  auto a = x * 1.0;
  a.select(0, 1).mul_(y);
  auto g = grad({(a * a).sum()}, {x, y}, {}, true, true);
  ((g[0] * G()).sum() + (g[1] * g[1]).sum()).backward();
  BOOST_TEST(is(x.grad(), {1, -2, 4, 4108, 2000.5, 863.75}));
  // PyTorch 1.13's analytic value is 4208 -5055 5214 (it adds the first-order dy once more);
  // its own central differences, the formula and the out-of-place version all give this:
  BOOST_TEST(is(y.grad(), {4144, -5005, 5178}));
}

BOOST_AUTO_TEST_CASE(gradcheck_through_in_place_ops_on_views) {
  auto inputs = [] {
    manual_seed(3);
    return std::vector<Tensor>{randn({3, 4}, kFloat64).requires_grad_(),
                               randn({4}, kFloat64).requires_grad_()};
  };
  std::function<Tensor(const std::vector<Tensor>&)> fns[] = {
      [](const std::vector<Tensor>& in) {  // the brief's f(x, y)
        auto a = in[0] * 1.0;
        a.select(0, 1).mul_(in[1]);
        return a * 1.0;
      },
      [](const std::vector<Tensor>& in) {  // strided column view, base used squared
        auto a = in[0] * 1.0;
        a.slice(1, 0, 4, 2).div_(in[1].slice(0, 0, 2) + 3.0);
        auto v = a.t()[3];
        v.add_(in[1].slice(0, 1, 4), 2.0);
        return a * a;
      },
      [](const std::vector<Tensor>& in) {  // copy_ and fill_ into views of a fresh base
        auto a = zeros({3, 4}, kFloat64);
        a[0].copy_(in[1]);
        a.slice(0, 1, 3).copy_(in[0].slice(0, 0, 2));
        a[2].slice(0, 1, 3).fill_(0.5);
        return a * in[0];
      },
  };
  for (const auto& f : fns) {
    BOOST_TEST(gradcheck(f, inputs()));
    BOOST_TEST(gradgradcheck(f, inputs()));
  }
}

BOOST_AUTO_TEST_CASE(views_pytorch_refuses_to_modify_in_place) {
  {  // made in no_grad mode, modified with grad mode on
    auto x = X();
    auto a = x * 1.0;
    Tensor v;
    {
      NoGradGuard guard;
      v = a[0];
    }
    BOOST_TEST(contains(error_of([&] { v.mul_(2.0); }), "mul_: a view made in no_grad mode"));
    auto y = row({2, -1, 0.5});
    auto b = zeros({2, 3}, kFloat64);
    {
      NoGradGuard guard;
      v = b[0];
    }
    BOOST_TEST(contains(error_of([&] { v.mul_(y); }), "a view made in no_grad mode"));
    v.mul_(2.0);  // untracked: nothing requires grad
    {
      NoGradGuard guard;
      a[0].mul_(2.0);  // view and write both in no_grad: untracked, allowed
    }
  }
  {  // one of several views returned by split / chunk
    auto x = X();
    auto a = x * 1.0;
    auto parts = split(a, 1, 0);
    const auto msg = error_of([&] { parts[0].mul_(2.0); });
    BOOST_TEST(contains(msg, "mul_: the tensor is a view returned by split"));
    BOOST_TEST(contains(msg, "out-of-place"));
    BOOST_TEST(contains(error_of([&] { chunk(a, 2, 0)[1].add_(1.0); }), "returned by split"));
    auto c = zeros({4}, kFloat64);
    split(c, 2, 0)[1].fill_(3.0);  // untracked: allowed
    BOOST_TEST(is(c, {0, 0, 3, 3}));
  }
}

// ---- item 9: writes through views that bypassed the checks ----

BOOST_AUTO_TEST_CASE(a_view_of_a_leaf_that_requires_grad_is_refused) {
  auto x = X();
  const auto msg = error_of([&] { x.slice(0, 0, 2).mul_(3.0); });
  BOOST_TEST(contains(msg, "mul_: a view of a leaf tensor that requires grad"));
  BOOST_TEST(contains(error_of([&] { x[0].copy_(vals({1, 2, 3})); }), "copy_: a view of a leaf"));
  BOOST_TEST(contains(error_of([&] { x.t().zero_(); }), "fill_: a view of a leaf"));
  BOOST_TEST(is(x, {1, 2, 3, 4, 5, 6}));  // nothing written
  {
    NoGradGuard guard;  // an optimizer-style update through a view is fine
    x.slice(0, 0, 1).mul_(3.0);
  }
  BOOST_TEST(is(x, {3, 6, 9, 4, 5, 6}));
}

BOOST_AUTO_TEST_CASE(writes_into_memory_that_elements_share_are_refused) {
  auto x = ones({3}, kFloat64);
  for (auto* op : {"add_", "mul_", "copy_"}) {
    const auto msg = error_of([&] {
      const std::string o = op;
      auto e = x.expand({4, 3});
      if (o == "add_") e.add_(1.0);
      if (o == "mul_") e.mul_(2.0);
      if (o == "copy_") e.copy_(ones({4, 3}, kFloat64));
    });
    BOOST_TEST(contains(msg, std::string(op) + ": unsupported operation: more than one element"));
    BOOST_TEST(contains(msg, "[0, 1]"));
  }
  BOOST_TEST(is(x, {1, 1, 1}));
  // fill_ writes one value, so PyTorch allows it (and zero_).
  x.expand({4, 3}).fill_(2.0);
  BOOST_TEST(is(x, {2, 2, 2}));
  x.expand({4, 3}).zero_();
  BOOST_TEST(is(x, {0, 0, 0}));
  // Tracked, on a non-leaf: refused too.
  auto a = row({1, 2, 3}) * 1.0;
  BOOST_TEST(contains(error_of([&] { a.expand({4, 3}).mul_(2.0); }), "more than one element"));
}

BOOST_AUTO_TEST_CASE(partially_overlapping_operands) {
  const std::string partial = "unsupported operation: some elements of the input tensor";
  auto a = arange(0, 9, 1, kFloat64).reshape({3, 3});
  BOOST_TEST(contains(error_of([&] { a.copy_(a.t()); }), "copy_: " + partial));
  BOOST_TEST(contains(error_of([&] { a.add_(a.t()); }), "add_: " + partial));
  BOOST_TEST(contains(error_of([&] { a.mul_(a[0]); }), "mul_: " + partial));
  BOOST_TEST(contains(error_of([&] { a.t().mul_(a); }), partial));
  auto x = arange(0, 5, 1, kFloat64);
  BOOST_TEST(contains(error_of([&] { x.slice(0, 1, 5).add_(x.slice(0, 0, -1)); }), partial));
  BOOST_TEST(contains(error_of([&] { x.slice(0, 0, -1).add_(x.slice(0, 1, 5)); }), partial));
  BOOST_TEST(contains(error_of([&] { x.slice(0, 1, 5).copy_(x.slice(0, 0, -1)); }), partial));
  BOOST_TEST(is(x, {0, 1, 2, 3, 4}));   // nothing written
  auto r = row({0, 1, 2, 3, 4}) * 1.0;  // tracked: refused as well
  BOOST_TEST(contains(error_of([&] { r.slice(0, 1, 5).add_(r.slice(0, 0, -1)); }), partial));
  // The same memory element for element, or disjoint memory: fine.
  x.add_(x);
  BOOST_TEST(is(x, {0, 2, 4, 6, 8}));
  x.copy_(x);
  BOOST_TEST(is(x, {0, 2, 4, 6, 8}));
  auto y = arange(0, 6, 1, kFloat64);
  y.slice(0, 0, 3).add_(y.slice(0, 3, 6));
  BOOST_TEST(is(y, {3, 5, 7, 3, 4, 5}));
  auto d = zeros({2, 3}, kFloat64);
  d.copy_(arange(0, 3, 1, kFloat64).expand({2, 3}));
  BOOST_TEST(is(d, {0, 1, 2, 0, 1, 2}));
  // Strided (not dense) partial overlap: PyTorch's result depends on its loop order (it gives
  // 0 1 2 3 6 5 12 7 20 9 here); tapegrad reads a copy of the source: the out-of-place result.
  auto s = arange(0, 10, 1, kFloat64);
  s.slice(0, 2, 10, 2).add_(s.slice(0, 0, 8, 2));
  BOOST_TEST(is(s, {0, 1, 2, 3, 6, 5, 10, 7, 14, 9}));
  auto c = arange(0, 10, 1, kFloat64);
  c.slice(0, 2, 10, 2).copy_(c.slice(0, 0, 8, 2));
  BOOST_TEST(is(c, {0, 1, 0, 3, 2, 5, 4, 7, 6, 9}));
}
