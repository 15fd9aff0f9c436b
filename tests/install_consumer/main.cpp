#include <tapegrad/tapegrad.h>

int main() {
  auto x = tg::tensor({1.0, 2.0, 3.0}, tg::kFloat64).requires_grad_();
  (x * x).sum().backward();
  // d/dx sum(x^2) = 2x
  return tg::allclose(x.grad(), x.detach() * 2.0) ? 0 : 1;
}
