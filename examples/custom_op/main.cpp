// A custom op: forward and backward for one struct, used in a small network and verified with
// the same gradcheck tapegrad uses on itself.
#include <tapegrad/tapegrad.h>
#include <iostream>

using namespace tg;

// Swish with a learnable-free slope: y = x * sigmoid(beta * x).
struct Swish : Function<Swish> {
  static constexpr const char* name = "swish";
  static Tensor forward(AutogradContext& ctx, const Tensor& x, double beta) {
    ctx.save_for_backward({x});
    ctx.data["beta"] = beta;
    return x * sigmoid(x * beta);
  }
  // dy/dx = s + beta * x * s * (1 - s), s = sigmoid(beta x). Written with tapegrad ops, so it
  // can be differentiated again.
  static grads backward(AutogradContext& ctx, const grads& g) {
    const double beta = std::any_cast<double>(ctx.data["beta"]);
    const Tensor x = ctx.saved()[0];
    const Tensor s = sigmoid(x * beta);
    return {g[0] * (s + beta * x * s * (1.0 - s))};
  }
};

int main() {
  manual_seed(0);
  auto probe = randn({4, 3}, kFloat64).requires_grad_();
  auto fn = [](const std::vector<Tensor>& in) { return Swish::apply(in[0], 1.7); };
  std::cout << "gradcheck: " << (gradcheck(fn, {probe}) ? "passed" : "failed") << '\n';
  std::cout << "gradgradcheck: " << (gradgradcheck(fn, {probe}) ? "passed" : "failed") << '\n';

  // Fit a cubic with a 1-32-1 network that uses the custom op as its activation.
  auto x = linspace(-1, 1, 128).reshape({128, 1});
  auto y = x * x * x - 0.5 * x;  // a cubic target
  auto w1 = (randn({1, 32}) * 1.0).requires_grad_();
  auto b1 = zeros({32}).requires_grad_();
  auto w2 = (randn({32, 1}) * 0.2).requires_grad_();
  auto b2 = zeros({1}).requires_grad_();
  for (int step = 0; step <= 2000; ++step) {
    auto pred = matmul(Swish::apply(matmul(x, w1) + b1, 1.0), w2) + b2;
    auto loss = pow(pred - y, 2.0).mean();
    loss.backward();
    NoGradGuard guard;
    for (auto* p : {&w1, &b1, &w2, &b2}) {
      p->sub_(p->grad() * 0.1);
      p->zero_grad();
    }
    if (step % 400 == 0) std::cout << "step " << step << "  loss " << loss.item() << '\n';
  }
  return 0;
}
