#pragma once
// Activation functions (elementwise). relu, sigmoid and tanh are declared in elementwise.h.
// Those whose derivative is a cheap kernel of x have a fused backward that is itself a recorded,
// differentiable op, so double backward works. At NaN, +-inf and 0 every value and gradient is
// PyTorch 1.13's (NaN propagates; relu6/hardtanh/elu pass the gradient at NaN), except that
// elu(-0) is -0 where PyTorch gives +0.
#include <string_view>

#include "tapegrad/core/tensor.h"

namespace tg {

Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor relu6(const Tensor& x);  // min(max(x, 0), 6)
// Clamps to [min_val, max_val]; the gradient passes strictly inside (PyTorch's hardtanh).
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0);
Tensor elu(const Tensor& x, double alpha = 1.0);  // x > 0 ? x : alpha * (exp(x) - 1)
// x * Phi(x), Phi the normal CDF; approximate "tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
// x^3))), PyTorch's option of the same name.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
Tensor silu(const Tensor& x);  // x * sigmoid(x)
// log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (overflow-free).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

}  // namespace tg
