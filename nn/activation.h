#pragma once
// Activation functions as modules, for Sequential and for networks that keep them as members.
// Each calls the op of the same name (ops/elementwise.h, ops/activation.h, ops/nn_functional.h).
#include <cstdint>
#include <string>

#include "tapegrad/nn/module.h"

namespace tg::nn {

class ReLU : public OwningModule {
 public:
  Tensor forward(const Tensor& input) override;
};

class LeakyReLU : public OwningModule {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  double negative_slope;
};

class ReLU6 : public OwningModule {
 public:
  Tensor forward(const Tensor& input) override;
};

class ELU : public OwningModule {
 public:
  explicit ELU(double alpha = 1.0) : alpha(alpha) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  double alpha;
};

// GELU: exact x * Phi(x), or the tanh approximation
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
enum class GELUApproximate { None, Tanh };
class GELU : public OwningModule {
 public:
  explicit GELU(GELUApproximate approximate = GELUApproximate::None) : approximate(approximate) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  GELUApproximate approximate;
};

class SiLU : public OwningModule {
 public:
  Tensor forward(const Tensor& input) override;
};

class Sigmoid : public OwningModule {
 public:
  Tensor forward(const Tensor& input) override;
};

class Tanh : public OwningModule {
 public:
  Tensor forward(const Tensor& input) override;
};

// Softmax / log-softmax along `dim` (the class dim of [N, C] inputs by default).
class Softmax : public OwningModule {
 public:
  explicit Softmax(std::int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  std::int64_t dim;
};

class LogSoftmax : public OwningModule {
 public:
  explicit LogSoftmax(std::int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  std::int64_t dim;
};

}  // namespace tg::nn
