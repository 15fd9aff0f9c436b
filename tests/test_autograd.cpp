// The autograd engine: accumulation, graph freeing, higher order, hooks, version counters,
// grad mode and memory.
#define BOOST_TEST_MODULE autograd
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include "error_text.h"
#include "tapegrad/core/detail/tensor_impl.h"  // internal: this test checks the library's own state

using namespace tg;
using namespace tg::test;

namespace {
Tensor leaf(std::initializer_list<double> v) { return tensor(v, kFloat64).requires_grad_(); }
}  // namespace

BOOST_AUTO_TEST_CASE(backward_accumulates_into_leaves) {
  auto x = leaf({1, 2, 3});
  auto w = leaf({0.5, -1, 2});
  auto y = (x * w).sum() + x.sum();
  BOOST_TEST(y.requires_grad());
  BOOST_TEST(!y.is_leaf());
  y.backward();
  BOOST_TEST(allclose(x.grad(), tensor({1.5, 0.0, 3.0}, kFloat64)));
  BOOST_TEST(allclose(w.grad(), tensor({1.0, 2.0, 3.0}, kFloat64)));
  // A second graph adds to .grad.
  (x * 2.0).sum().backward();
  BOOST_TEST(allclose(x.grad(), tensor({3.5, 2.0, 5.0}, kFloat64)));
  x.zero_grad();
  BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(broadcast_gradients_are_summed_back) {
  auto x = randn({4, 3}, kFloat64).requires_grad_();
  auto b = zeros({3}, kFloat64).requires_grad_();
  auto s = zeros({1, 1}, kFloat64).requires_grad_();
  ((x + b) * s + b).sum().backward();
  BOOST_TEST(b.grad().shape() == (Shape{3}));
  BOOST_TEST(allclose(b.grad(), full({3}, 4.0, kFloat64)));  // s == 0: only the second term
  BOOST_TEST(s.grad().shape() == (Shape{1, 1}));
  BOOST_TEST(std::abs(s.grad().item() - x.sum().item()) < 1e-9);
}

BOOST_AUTO_TEST_CASE(non_scalar_backward_needs_a_gradient) {
  auto x = leaf({1, 2});
  auto y = x * 3.0;
  auto msg = error_of([&] { y.backward(); });
  BOOST_TEST(contains(msg, "one-element outputs"));
  BOOST_TEST(contains(msg, "[2]"));
  y.backward(tensor({1.0, -1.0}, kFloat64));
  BOOST_TEST(allclose(x.grad(), tensor({3.0, -3.0}, kFloat64)));
  BOOST_TEST(
      contains(error_of([&] { (x * 1.0).backward(zeros({3}, kFloat64)); }), "does not match"));
  BOOST_TEST(contains(error_of([] { zeros({1}).backward(); }), "does not require grad"));
}

BOOST_AUTO_TEST_CASE(second_backward_through_freed_graph_says_retain_graph) {
  auto x = leaf({1, 2});
  auto y = (x * x).sum();
  y.backward();
  auto msg = error_of([&] { y.backward(); });
  BOOST_TEST(contains(msg, "mul: trying to backward through the graph a second time"));
  BOOST_TEST(contains(msg, "retain_graph=true"));
  auto z = (x.exp()).sum();
  z.backward({}, /*retain_graph=*/true);
  z.backward();
  BOOST_TEST(allclose(x.grad(), (2.0 * x * 1.0 + 2.0 * x.exp()).detach() + 0.0 * x.detach()));
}

BOOST_AUTO_TEST_CASE(higher_order_gradients_with_create_graph) {
  // d/dx tanh = 1 - tanh^2;  d2/dx2 = -2 tanh (1 - tanh^2)
  auto x = leaf({0.3, -0.7});
  auto g = grad({tanh(x).sum()}, {x}, {}, false, /*create_graph=*/true)[0];
  BOOST_TEST(g.requires_grad());
  auto g2 = grad({g.sum()}, {x})[0];
  const auto t = tanh(x.detach());
  BOOST_TEST(allclose(g2, -2.0 * t * (1.0 - t * t), 1e-9, 1e-12));
  // mul and sum: f = sum(x*x*x) -> f'' = 6x.
  auto f1 = grad({(x * x * x).sum()}, {x}, {}, false, true)[0];
  BOOST_TEST(allclose(grad({f1.sum()}, {x})[0], 6.0 * x.detach()));
  // matmul: f = sum((A x)^2) -> Hessian-vector with ones = 2 A^T A 1.
  auto A = randn({3, 2}, kFloat64);
  auto v = leaf({0.1, 0.2});
  auto gm = grad({pow(matmul(A, v), 2.0).sum()}, {v}, {}, false, true)[0];
  auto hv = grad({gm.sum()}, {v})[0];
  BOOST_TEST(allclose(hv, 2.0 * matmul(A.t(), matmul(A, ones({2}, kFloat64))), 1e-9, 1e-12));
  // Third order: d3/dx3 x^4 = 24 x.
  auto y = leaf({1.5});
  auto d1 = grad({pow(y, 4.0).sum()}, {y}, {}, false, true)[0];
  auto d2 = grad({d1.sum()}, {y}, {}, false, true)[0];
  auto d3 = grad({d2.sum()}, {y})[0];
  BOOST_TEST(std::abs(d3.item() - 36.0) < 1e-9);
  // backward(create_graph) leaves a differentiable .grad.
  auto z = leaf({2.0});
  (z * z * z).sum().backward({}, false, true);
  BOOST_TEST(z.grad().requires_grad());
  BOOST_TEST(std::abs(grad({z.grad().sum()}, {z})[0].item() - 12.0) < 1e-12);
  // z.grad's graph holds z (a cycle, as in PyTorch); dropping the grad breaks it. LeakSanitizer
  // in CI checks that it does.
  z.zero_grad();
}

BOOST_AUTO_TEST_CASE(grad_does_not_touch_dot_grad_and_checks_unused) {
  auto x = leaf({1, 2});
  auto u = leaf({5});
  auto y = (x * x).sum();
  auto g = grad({y}, {x}, {}, true);
  BOOST_TEST(allclose(g[0], tensor({2.0, 4.0}, kFloat64)));
  BOOST_TEST(!x.grad().defined());
  BOOST_TEST(contains(error_of([&] { grad({y}, {u}, {}, true); }), "allow_unused"));
  auto r = grad({y}, {x, u}, {}, true, false, /*allow_unused=*/true);
  BOOST_TEST(!r[1].defined());
  // Gradient w.r.t. an intermediate tensor.
  auto h = x * 3.0;
  auto out = (h * h).sum();
  BOOST_TEST(allclose(grad({out}, {h})[0], 2.0 * h.detach()));
}

BOOST_AUTO_TEST_CASE(retain_grad_and_hooks) {
  auto x = leaf({1, -2});
  auto h = x * 2.0;
  h.retain_grad();
  int calls = 0;
  h.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 10.0;  // replaces the gradient flowing on
  });
  auto id = x.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();  // observe only
  });
  (h * h).sum().backward();
  BOOST_TEST(calls == 2);
  BOOST_TEST(allclose(h.grad(), 2.0 * h.detach() * 10.0));  // retain sees the hooked gradient
  BOOST_TEST(allclose(x.grad(), 2.0 * 2.0 * h.detach() * 10.0));
  x.remove_hook(id);
  x.zero_grad();
  (x * 1.0).sum().backward();
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(no_grad_detach_and_requires_grad) {
  auto x = leaf({1, 2});
  {
    NoGradGuard guard;
    auto y = x * 2.0;
    BOOST_TEST(!y.requires_grad());
    {
      EnableGradGuard enable;
      BOOST_TEST((x * 2.0).requires_grad());
    }
  }
  BOOST_TEST(GradMode::is_enabled());
  auto d = (x * 2.0).detach();
  BOOST_TEST(!d.requires_grad());
  BOOST_TEST(d.impl()->storage != nullptr);
  auto c = zeros({2}, kFloat64);
  BOOST_TEST(!(c * 2.0).requires_grad());
  BOOST_TEST(contains(error_of([&] { (x * 2.0).requires_grad_(false); }), "non-leaf"));
}

BOOST_AUTO_TEST_CASE(in_place_change_of_a_saved_tensor_is_an_error) {
  auto x = leaf({1, 2});
  auto h = x * 1.0;
  auto y = (h.exp()).sum();  // exp saves its output; the next line changes h, not exp's output
  auto z = (h * h).sum();    // mul saves h
  {
    NoGradGuard guard;
    h.mul_(3.0);
  }
  auto msg = error_of([&] { z.backward(); });
  BOOST_TEST(contains(msg, "mul: saved tensor"));
  BOOST_TEST(contains(msg, "modified by an in-place operation"));
  y.backward();  // exp saved its own output, which is unchanged
  BOOST_TEST(x.grad().defined());
}

BOOST_AUTO_TEST_CASE(in_place_ops_and_autograd) {
  auto w = leaf({1, 2});
  BOOST_TEST(contains(error_of([&] { w.add_(1.0); }), "leaf tensor that requires grad"));
  {
    NoGradGuard guard;
    w.add_(1.0);  // an optimizer step
  }
  BOOST_TEST(allclose(w, tensor({2.0, 3.0}, kFloat64)));
  // On a non-leaf, the in-place op becomes part of the graph.
  auto h = w * 2.0;
  h.add_(w);  // h = 3w
  h.sum().backward();
  BOOST_TEST(allclose(w.grad(), full({2}, 3.0, kFloat64)));
  auto c = zeros({2}, kFloat64);
  w.zero_grad();
  auto k = w * 1.0;
  c.copy_(k);  // c takes k's history
  (c * c).sum().backward();
  BOOST_TEST(allclose(w.grad(), 2.0 * w.detach()));
}

BOOST_AUTO_TEST_CASE(graph_memory_is_freed_and_flat_over_10000_steps) {
  manual_seed(0);
  auto w = (randn({16, 16}) * 0.1).requires_grad_();
  auto x = randn({8, 16});
  const auto before = memory_stats();
  std::int64_t after_first = 0;
  for (int step = 0; step < 10000; ++step) {
    auto loss = tanh(matmul(x, w)).pow(2.0).mean();
    loss.backward();
    {
      NoGradGuard guard;
      w.sub_(w.grad() * 0.01);
    }
    w.zero_grad();
    if (step == 0) after_first = memory_stats().live_bytes;
  }
  const auto after = memory_stats();
  BOOST_TEST(after.live_bytes == before.live_bytes);
  BOOST_TEST(after_first > before.live_bytes);  // the gradient and the loss were alive then
  BOOST_TEST(after.live_tensors == before.live_tensors);
  BOOST_TEST(after.live_storages == before.live_storages);
  {
    // Dropping an un-backwarded graph frees everything too.
    auto y = tanh(matmul(x, w)).sum();
    BOOST_TEST(memory_stats().live_tensors > before.live_tensors);
  }
  BOOST_TEST(memory_stats().live_tensors == before.live_tensors);
}

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_op) {
  auto x = leaf({-1.0, 1.0});
  {
    DetectAnomalyGuard anomaly;
    BOOST_TEST(contains(error_of([&] { log(x); }), "log: forward produced NaN"));
    auto y = pow(x * 0.0, 0.5).sum();  // forward fine (0), backward 0.5 * 0^-0.5 = inf
    auto msg = error_of([&] { y.backward(); });
    BOOST_TEST(contains(msg, "pow: backward produced NaN or Inf"), msg);
  }
  BOOST_TEST(!DetectAnomalyGuard::is_enabled());
  log(x);  // no error outside the guard
}
