// The custom-op API: a user struct with static forward/backward becomes an op on the tape.
#define BOOST_TEST_MODULE custom_op
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {

// softplus-like smooth activation: y = log(1 + exp(x)), dy/dx = sigmoid(x).
struct SmoothRelu : Function<SmoothRelu> {
  static constexpr const char* name = "smooth_relu";
  static Tensor forward(AutogradContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return log(1.0 + exp(x));
  }
  static grads backward(AutogradContext& ctx, const grads& g) {
    return {g[0] * sigmoid(ctx.saved()[0])};
  }
};

// Two inputs, a non-tensor argument, two outputs: (a*b*alpha, a+b).
struct ScaledMulAdd : Function<ScaledMulAdd> {
  static std::vector<Tensor> forward(AutogradContext& ctx, const Tensor& a, const Tensor& b,
                                     double alpha) {
    ctx.save_for_backward({a, b});
    ctx.data["alpha"] = alpha;
    return {a * b * alpha, a + b};
  }
  static grads backward(AutogradContext& ctx, const grads& g) {
    const double alpha = std::any_cast<double>(ctx.data["alpha"]);
    const auto& s = ctx.saved();
    return {g[0] * s[1] * alpha + g[1], g[0] * s[0] * alpha + g[1]};
  }
};

// Saves its own output, like exp.
struct MyExp : Function<MyExp> {
  static Tensor forward(AutogradContext& ctx, const Tensor& x) {
    Tensor y = exp(x);
    ctx.save_for_backward({y});
    return y;
  }
  static grads backward(AutogradContext& ctx, const grads& g) { return {g[0] * ctx.saved()[0]}; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(custom_op_records_on_the_tape_and_passes_gradchecks) {
  auto x = randn({3, 4}, kFloat64).requires_grad_();
  auto y = SmoothRelu::apply(x);
  BOOST_TEST(y.grad_fn()->name() == "smooth_relu");
  BOOST_TEST(allclose(y, log(1.0 + exp(x.detach()))));
  y.sum().backward();
  BOOST_TEST(allclose(x.grad(), sigmoid(x.detach())));
  auto fn = [](const std::vector<Tensor>& in) { return SmoothRelu::apply(in[0]); };
  BOOST_TEST(gradcheck(fn, {x}));
  BOOST_TEST(gradgradcheck(fn, {x}));
}

BOOST_AUTO_TEST_CASE(multi_input_multi_output_with_scalars) {
  auto a = randn({2, 3}, kFloat64).requires_grad_();
  auto b = randn({2, 3}, kFloat64).requires_grad_();
  auto outs = ScaledMulAdd::apply(a, b, 0.5);
  BOOST_TEST(outs.size() == 2u);
  BOOST_TEST(allclose(outs[0], a.detach() * b.detach() * 0.5));
  auto fn = [](const std::vector<Tensor>& in) { return ScaledMulAdd::apply(in[0], in[1], 1.5); };
  BOOST_TEST(gradcheck(fn, {a, b}));
  BOOST_TEST(gradgradcheck(fn, {a, b}));
  // Only one output used: the other's gradient is zero.
  auto only_sum = [](const std::vector<Tensor>& in) {
    return ScaledMulAdd::apply(in[0], in[1], 2.0)[1];
  };
  BOOST_TEST(gradcheck(only_sum, {a, b}));
}

BOOST_AUTO_TEST_CASE(saved_outputs_and_version_checks) {
  auto x = randn({5}, kFloat64).requires_grad_();
  auto fn = [](const std::vector<Tensor>& in) { return MyExp::apply(in[0]); };
  BOOST_TEST(gradcheck(fn, {x}));
  BOOST_TEST(gradgradcheck(fn, {x}));
  auto h = x * 1.0;
  auto y = SmoothRelu::apply(h).sum();
  {
    NoGradGuard guard;
    h.add_(1.0);
  }
  try {
    y.backward();
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("smooth_relu: saved tensor 0") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(custom_op_in_a_small_network_learns) {
  manual_seed(1);
  auto w1 = (randn({1, 16}, kFloat64) * 0.5).requires_grad_();
  auto b1 = zeros({16}, kFloat64).requires_grad_();
  auto w2 = (randn({16, 1}, kFloat64) * 0.5).requires_grad_();
  auto x = linspace(-2, 2, 64, kFloat64).reshape({64, 1});
  auto target = x * x;
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    auto loss = pow(matmul(SmoothRelu::apply(matmul(x, w1) + b1), w2) - target, 2.0).mean();
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    NoGradGuard guard;
    for (auto* p : {&w1, &b1, &w2}) {
      p->sub_(p->grad() * 0.05);
      p->zero_grad();
    }
  }
  BOOST_TEST(last < first * 0.2);
}

// ---- backward returning the wrong thing (issue 16, item 10); PyTorch 1.13's rules ----
namespace {

// forward a * b; backward returns whatever `Case` picks.
enum class Case { Nothing, FirstUndefined, ExtraUndefined, ExtraDefined, WrongShape, Float64 };
template <Case C>
struct Returns : Function<Returns<C>> {
  static constexpr const char* name = "returns";
  static Tensor forward(AutogradContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return a * b;
  }
  static grads backward(AutogradContext& ctx, const grads& g) {
    const Tensor ga = g[0] * ctx.saved()[1], gb = g[0] * ctx.saved()[0];
    switch (C) {
      case Case::Nothing:
        return {};
      case Case::FirstUndefined:
        return {Tensor(), gb};
      case Case::ExtraUndefined:
        return {ga, gb, Tensor()};
      case Case::ExtraDefined:
        return {ga, gb, gb};
      case Case::WrongShape:
        return {ones({5}), gb};
      case Case::Float64:
        return {ga.to(kFloat64), gb};
    }
    return {};
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(backward_returning_no_gradients_is_an_error) {
  auto a = ones({3}).requires_grad_(), b = full({3}, 2.0).requires_grad_();
  const auto msg = error_of([&] { Returns<Case::Nothing>::apply(a, b).sum().backward(); });
  // PyTorch: "function FBackward returned an incorrect number of gradients (expected 2, got 0)".
  BOOST_TEST(contains(msg, "returns: backward returned an incorrect number of gradients"), msg);
  BOOST_TEST(contains(msg, "expected 2"), msg);
  BOOST_TEST(contains(msg, "got 0"), msg);
  BOOST_TEST(!a.grad().defined());
  BOOST_TEST(!b.grad().defined());
  // More gradients than inputs: an error when an extra one is defined ("expected 1, got 2" in
  // PyTorch), accepted when they are all undefined.
  BOOST_TEST(contains(error_of([&] { Returns<Case::ExtraDefined>::apply(a, b).sum().backward(); }),
                      "(expected 2, one per Tensor argument of forward; got 3)"));
  Returns<Case::ExtraUndefined>::apply(a, b).sum().backward();
  BOOST_TEST(a.grad().to_vector<float>() == std::vector<float>({2, 2, 2}));
  BOOST_TEST(b.grad().to_vector<float>() == std::vector<float>({1, 1, 1}));
}

BOOST_AUTO_TEST_CASE(backward_returning_undefined_means_no_gradient) {
  // PyTorch: returning None for a gives a.grad None and b its gradient.
  auto a = ones({3}).requires_grad_(), b = full({3}, 2.0).requires_grad_();
  Returns<Case::FirstUndefined>::apply(a, b).sum().backward();
  BOOST_TEST(!a.grad().defined());
  BOOST_TEST(b.grad().to_vector<float>() == std::vector<float>({1, 1, 1}));
  // Upstream of an undefined gradient nothing runs: x * 3 gets none either.
  auto x = ones({3}).requires_grad_();
  Returns<Case::FirstUndefined>::apply(x * 3.0, b).sum().backward();
  BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(backward_returning_a_wrong_shape_or_dtype) {
  auto a = ones({3}).requires_grad_(), b = full({3}, 2.0).requires_grad_();
  const auto msg = error_of([&] { Returns<Case::WrongShape>::apply(a, b).sum().backward(); });
  // PyTorch: "Function FBackward returned an invalid gradient at index 0 - got [5] but expected
  // shape compatible with [3]".
  BOOST_TEST(contains(msg,
                      "returns: backward returned an invalid gradient at index 0 - got [5] "
                      "but expected shape compatible with [3]"),
             msg);
  BOOST_TEST(!a.grad().defined());
  // Another dtype is converted to the input's (PyTorch does the same).
  Returns<Case::Float64>::apply(a, b).sum().backward();
  BOOST_TEST(a.grad().dtype() == kFloat32);
  BOOST_TEST(a.grad().to_vector<float>() == std::vector<float>({2, 2, 2}));
}
