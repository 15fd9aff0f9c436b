// Gradient hooks (issue 16, items 8 and 10): hooks that add or remove hooks while backward runs
// them, and hooks that return a gradient of the wrong shape or dtype. The expected values and
// the hook-list semantics are PyTorch 1.13's: each pass runs the hooks registered when the
// tensor's gradient arrived, in registration order; hooks added during the pass run from the
// next pass on, and a hook removed during the pass still runs in it.
#define BOOST_TEST_MODULE hooks
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <string>
#include <vector>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }
using Calls = std::vector<std::string>;
}  // namespace

// ---- item 8: hooks that change the hook list during backward ----

BOOST_AUTO_TEST_CASE(non_leaf_hook_registering_hooks_on_the_same_tensor) {
  auto x = tensor({1.0f, 2.0f, 3.0f}).requires_grad_();
  auto y = x * 2.0;
  Calls calls;
  y.register_hook([&](const Tensor&) {
    calls.push_back("h1");
    y.register_hook([&](const Tensor& g) {
      calls.push_back("h_new");
      return g * 10.0;
    });
    return Tensor();
  });
  y.sum().backward(Tensor(), /*retain_graph=*/true);
  // PyTorch: pass 1 runs h1 only; x.grad = [2, 2, 2].
  BOOST_TEST(calls == Calls({"h1"}));
  BOOST_TEST(values(x.grad()) == std::vector<float>({2, 2, 2}));
  calls.clear();
  x.zero_grad();
  y.sum().backward(Tensor(), /*retain_graph=*/true);
  // Pass 2 runs h1 and the first h_new (h1 adds a second one, not run yet): [20, 20, 20].
  BOOST_TEST(calls == Calls({"h1", "h_new"}));
  BOOST_TEST(values(x.grad()) == std::vector<float>({20, 20, 20}));
}

BOOST_AUTO_TEST_CASE(one_shot_leaf_hook_removes_itself) {
  auto a = tensor({1.0f, 2.0f}).requires_grad_();
  Calls calls;
  int id = -1;
  id = a.register_hook([&](const Tensor& g) {
    calls.push_back("once");
    a.remove_hook(id);
    return g * 3.0;
  });
  a.register_hook([&](const Tensor&) {
    calls.push_back("after");
    return Tensor();
  });
  (a * 1.0).sum().backward();
  BOOST_TEST(calls == Calls({"once", "after"}));
  BOOST_TEST(values(a.grad()) == std::vector<float>({3, 3}));
  calls.clear();
  a.zero_grad();
  (a * 1.0).sum().backward();
  BOOST_TEST(calls == Calls({"after"}));
  BOOST_TEST(values(a.grad()) == std::vector<float>({1, 1}));
}

BOOST_AUTO_TEST_CASE(one_shot_non_leaf_hook_removes_itself) {
  auto x = tensor({1.0f, 2.0f}).requires_grad_();
  auto y = x * 1.0;
  int runs = 0, id = -1;
  id = y.register_hook([&](const Tensor& g) {
    ++runs;
    y.remove_hook(id);
    return g * 4.0;
  });
  y.sum().backward(Tensor(), true);
  y.sum().backward(Tensor(), true);
  BOOST_TEST(runs == 1);
  BOOST_TEST(values(x.grad()) == std::vector<float>({5, 5}));  // 4 + 1
}

BOOST_AUTO_TEST_CASE(leaf_hook_adding_a_hook_runs_it_from_the_next_pass) {
  auto b = tensor({1.0f, 2.0f}).requires_grad_();
  Calls calls;
  b.register_hook([&](const Tensor&) {
    calls.push_back("adder");
    b.register_hook([&](const Tensor& g) {
      calls.push_back("added");
      return g * 5.0;
    });
    return Tensor();
  });
  (b * 1.0).sum().backward();
  // PyTorch: ['adder'], b.grad = [1, 1].
  BOOST_TEST(calls == Calls({"adder"}));
  BOOST_TEST(values(b.grad()) == std::vector<float>({1, 1}));
  calls.clear();
  b.zero_grad();
  (b * 1.0).sum().backward();
  BOOST_TEST(calls == Calls({"adder", "added"}));
  BOOST_TEST(values(b.grad()) == std::vector<float>({5, 5}));
}

BOOST_AUTO_TEST_CASE(hook_removing_a_later_hook_still_runs_it_in_this_pass) {
  for (bool leaf : {true, false}) {
    auto c = tensor({1.0f, 2.0f}).requires_grad_();
    Tensor t = leaf ? c : c * 1.0;
    Calls calls;
    int second = -1;
    t.register_hook([&](const Tensor&) {
      calls.push_back("r1");
      t.remove_hook(second);
      return Tensor();
    });
    second = t.register_hook([&](const Tensor& g) {
      calls.push_back("r2");
      return g * 7.0;
    });
    (t * 1.0).sum().backward(Tensor(), true);
    // PyTorch (leaf and non-leaf): ['r1', 'r2'] and grad [7, 7]; the next pass runs r1 only.
    BOOST_TEST(calls == Calls({"r1", "r2"}));
    BOOST_TEST(values(c.grad()) == std::vector<float>({7, 7}));
    calls.clear();
    c.zero_grad();
    (t * 1.0).sum().backward();
    BOOST_TEST(calls == Calls({"r1"}));
    BOOST_TEST(values(c.grad()) == std::vector<float>({1, 1}));
  }
}

BOOST_AUTO_TEST_CASE(many_hooks_added_during_a_pass_keep_the_list_valid) {
  // Enough registrations to reallocate the hook vector while the engine walks it.
  auto x = tensor({1.0f}).requires_grad_();
  auto y = x * 1.0;
  int added_runs = 0;
  // By pointer: a hook holding its own tensor by value would be a reference cycle.
  for (Tensor* t : {&x, &y})
    t->register_hook([&added_runs, t](const Tensor&) {
      for (int i = 0; i < 100; ++i)
        t->register_hook([&added_runs](const Tensor&) {
          ++added_runs;
          return Tensor();
        });
      return Tensor();
    });
  y.sum().backward(Tensor(), true);
  BOOST_TEST(added_runs == 0);
  y.sum().backward();
  BOOST_TEST(added_runs == 200);
}

BOOST_AUTO_TEST_CASE(a_mutable_hook_keeps_its_state) {
  auto x = tensor({1.0f}).requires_grad_();
  std::vector<int> seen;
  x.register_hook([n = 0, &seen](const Tensor&) mutable {
    seen.push_back(++n);
    return Tensor();
  });
  for (int i = 0; i < 3; ++i) (x * 1.0).sum().backward();
  BOOST_TEST(seen == std::vector<int>({1, 2, 3}));
}

// ---- item 10: hooks that return the wrong thing ----

BOOST_AUTO_TEST_CASE(leaf_hook_returning_another_shape_is_an_error) {
  auto p = zeros({3}).requires_grad_();
  const int id = p.register_hook([](const Tensor&) { return ones({5}); });
  const auto msg = error_of([&] { (p * 1.0).sum().backward(); });
  // PyTorch: "hook 'hook' has changed the size of value".
  BOOST_TEST(contains(msg, "hook " + std::to_string(id) + " "), msg);
  BOOST_TEST(contains(msg, "has changed the size of value"), msg);
  BOOST_TEST(contains(msg, "[3]"), msg);
  BOOST_TEST(contains(msg, "[5]"), msg);
  BOOST_TEST(!p.grad().defined());
  // A broadcastable [1] is refused too (PyTorch: the size must not change).
  auto q = zeros({3}).requires_grad_();
  q.register_hook([](const Tensor&) { return ones({1}); });
  BOOST_TEST(contains(error_of([&] { (q * 1.0).sum().backward(); }), "changed the size"));
}

BOOST_AUTO_TEST_CASE(non_leaf_hook_returning_another_shape_is_an_error) {
  auto x = zeros({3}).requires_grad_();
  auto y = x * 1.0;
  y.register_hook([](const Tensor&) { return ones({2, 3}); });
  const auto msg = error_of([&] { y.sum().backward(); });
  BOOST_TEST(contains(msg, "hook 0 "), msg);
  BOOST_TEST(contains(msg, "mul"), msg);  // the op whose output it is
  BOOST_TEST(contains(msg, "has changed the size of value"), msg);
  BOOST_TEST(contains(msg, "[3]"), msg);
  BOOST_TEST(contains(msg, "[2, 3]"), msg);
  BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(hook_returning_another_dtype_is_an_error) {
  auto p = zeros({3}).requires_grad_();
  p.register_hook([](const Tensor& g) { return g.to(kFloat64); });
  auto msg = error_of([&] { (p * 1.0).sum().backward(); });
  // PyTorch: "hook 'hook' has changed the type of value (was torch.FloatTensor got
  // torch.DoubleTensor)".
  BOOST_TEST(contains(msg, "has changed the type of value"), msg);
  BOOST_TEST(contains(msg, "float32"), msg);
  BOOST_TEST(contains(msg, "float64"), msg);
  BOOST_TEST(!p.grad().defined());

  auto x = zeros({3}).requires_grad_();
  auto y = x * 1.0;
  y.register_hook([](const Tensor& g) { return g.to(kFloat64); });
  msg = error_of([&] { y.sum().backward(); });
  BOOST_TEST(contains(msg, "has changed the type of value"), msg);
  BOOST_TEST(contains(msg, "float64"), msg);
}

BOOST_AUTO_TEST_CASE(hook_returning_a_good_replacement_is_used) {
  auto p = tensor({1.0f, 2.0f, 3.0f}).requires_grad_();
  p.register_hook([](const Tensor& g) { return g * 2.0; });
  p.register_hook([](const Tensor& g) { return g + 1.0; });  // sees the first one's result
  (p * p).sum().backward();
  BOOST_TEST(values(p.grad()) == std::vector<float>({5, 9, 13}));  // 2 * 2p + 1
}

BOOST_AUTO_TEST_CASE(a_throwing_hook_propagates_and_leaves_the_hooks_in_place) {
  auto p = tensor({1.0f}).requires_grad_();
  bool fail = true;
  p.register_hook([&](const Tensor& g) {
    if (fail) throw Error("my hook failed");
    return g * 2.0;
  });
  BOOST_TEST(error_of([&] { (p * 1.0).sum().backward(); }) == "my hook failed");
  fail = false;
  (p * 1.0).sum().backward();
  BOOST_TEST(p.grad().item<float>() == 2.0f);
}

// A leaf's gradient is accumulated as soon as it is complete, not after the rest of the backward
// pass (PyTorch runs AccumulateGrad first among the ready nodes): data-parallel reduction of the
// last layer's gradients then overlaps the backward of the layers before it.
BOOST_AUTO_TEST_CASE(leaf_gradients_accumulate_as_soon_as_ready) {
  Tensor w1 = tensor({0.5f, -1.0f}).requires_grad_();
  Tensor w2 = tensor({2.0f, 3.0f}).requires_grad_();
  std::vector<std::string> events;
  w1.register_post_accumulate_grad_hook([&](const Tensor&) { events.push_back("w1"); });
  w2.register_post_accumulate_grad_hook([&](const Tensor&) { events.push_back("w2"); });
  Tensor a = (w1 * 1.5).exp();  // the first layer (not the pass's first node)
  a.register_hook([&](const Tensor&) {
    events.push_back("a");
    return Tensor();
  });
  ((a.sin() * w2).sum()).backward();
  BOOST_TEST(events == (std::vector<std::string>{"w2", "a", "w1"}),
             boost::test_tools::per_element());
}

// Post-accumulate hooks run after .grad holds the pass's sum (what data-parallel reduction
// needs), once per backward pass, and can be removed.
BOOST_AUTO_TEST_CASE(post_accumulate_grad_hook_sees_accumulated_grad) {
  Tensor w = tensor({1.0f, 2.0f}).requires_grad_();
  std::vector<float> seen;
  const int id = w.register_post_accumulate_grad_hook(
      [&](const Tensor& leaf) { seen.push_back(leaf.grad().at<float>({1})); });
  (w * w).sum().backward();    // grad 2w = [2, 4]; w used twice in one node: one call
  (w * 3.0).sum().backward();  // accumulates: [5, 7]
  BOOST_TEST(seen == (std::vector<float>{4.0f, 7.0f}), boost::test_tools::per_element());
  w.remove_hook(id);
  (w * 1.0).sum().backward();
  BOOST_TEST(seen.size() == 2u);
  Tensor y = w * 2.0;
  BOOST_TEST(contains(error_of([&] { y.register_post_accumulate_grad_hook([](const Tensor&) {}); }),
                      "only leaf tensors"));
}
