#include "tapegrad/nn/activation.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include "tapegrad/ops/activation.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/nn_functional.h"

namespace tg::nn {
namespace {
template <typename T>
std::string field(const char* name, const T& value) {
  std::ostringstream os;
  os << name << '=' << value;
  return os.str();
}
}  // namespace

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return field("negative_slope", negative_slope); }

Tensor ReLU6::forward(const Tensor& x) { return relu6(x); }

Tensor ELU::forward(const Tensor& x) { return elu(x, alpha); }
std::string ELU::extra_repr() const { return field("alpha", alpha); }

Tensor GELU::forward(const Tensor& x) {
  if (approximate == GELUApproximate::None) return gelu(x);
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}
std::string GELU::extra_repr() const {
  return approximate == GELUApproximate::Tanh ? "approximate=tanh" : "";
}

Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

Tensor Softmax::forward(const Tensor& x) { return functional::softmax(x, dim); }
std::string Softmax::extra_repr() const { return field("dim", dim); }

Tensor LogSoftmax::forward(const Tensor& x) { return functional::log_softmax(x, dim); }
std::string LogSoftmax::extra_repr() const { return field("dim", dim); }

}  // namespace tg::nn
