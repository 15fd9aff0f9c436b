// Fits y = sin(x) on [-pi, pi] with a 1-64-64-1 tanh network, using only tensors and autograd.
#include <tapegrad/tapegrad.h>
#include <cmath>
#include <iostream>
#include <numbers>

using namespace tg;

int main() {
  manual_seed(0);
  const auto x = linspace(-std::numbers::pi, std::numbers::pi, 256).reshape({256, 1});
  std::vector<float> sines;
  for (float v : x.to_vector<float>()) sines.push_back(std::sin(v));
  const auto y = from_vector(sines).reshape({256, 1});

  auto layer = [](std::int64_t in, std::int64_t out) {
    const double bound = std::sqrt(6.0 / static_cast<double>(in + out));  // Glorot
    return std::pair{((rand({in, out}) * 2.0 - 1.0) * bound).requires_grad_(),
                     zeros({out}).requires_grad_()};
  };
  auto [w1, b1] = layer(1, 64);
  auto [w2, b2] = layer(64, 64);
  auto [w3, b3] = layer(64, 1);
  std::vector<Tensor*> params{&w1, &b1, &w2, &b2, &w3, &b3};

  const double lr = 0.05;
  for (int step = 0; step <= 3000; ++step) {
    auto h = tanh(matmul(x, w1) + b1);
    h = tanh(matmul(h, w2) + b2);
    auto loss = pow(matmul(h, w3) + b3 - y, 2.0).mean();
    loss.backward();
    {
      NoGradGuard guard;  // plain gradient descent
      for (auto* p : params) {
        p->sub_(p->grad() * lr);
        p->zero_grad();
      }
    }
    if (step % 250 == 0) std::cout << "step " << step << "  mse " << loss.item() << std::endl;
  }
  return 0;
}
