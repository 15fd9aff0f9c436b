#pragma once
// Pooling layers: MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d,
// AdaptiveMaxPool2d. No parameters; each holds its settings and calls the op of the same name in
// ops/pooling.h. Printed like PyTorch's (MaxPool2d(kernel_size=2, stride=2, padding=0, ...)).
#include <cstdint>
#include <optional>
#include <string>

#include "tapegrad/nn/module.h"
#include "tapegrad/ops/pooling.h"

namespace tg::nn {

using functional::PoolStride;
using functional::Size2;

struct MaxPool2dOptions {
  PoolStride stride = {};  // not given: the kernel size
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

class MaxPool2d : public OwningModule {
 public:
  explicit MaxPool2d(Size2 kernel_size, const MaxPool2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Size2 kernel_size;
  MaxPool2dOptions options;
};

struct MaxPool1dOptions {
  std::optional<std::int64_t> stride;  // nullopt: the kernel size
  std::int64_t padding = 0;
  std::int64_t dilation = 1;
  bool ceil_mode = false;
};

class MaxPool1d : public OwningModule {
 public:
  explicit MaxPool1d(std::int64_t kernel_size, const MaxPool1dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  std::int64_t kernel_size;
  MaxPool1dOptions options;
};

struct AvgPool2dOptions {
  PoolStride stride = {};
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<std::int64_t> divisor_override = std::nullopt;
};

class AvgPool2d : public OwningModule {
 public:
  explicit AvgPool2d(Size2 kernel_size, const AvgPool2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Size2 kernel_size;
  AvgPool2dOptions options;
};

struct AvgPool1dOptions {
  std::optional<std::int64_t> stride;
  std::int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

class AvgPool1d : public OwningModule {
 public:
  explicit AvgPool1d(std::int64_t kernel_size, const AvgPool1dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  std::int64_t kernel_size;
  AvgPool1dOptions options;
};

class AdaptiveAvgPool2d : public OwningModule {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Size2 output_size;
};

class AdaptiveMaxPool2d : public OwningModule {
 public:
  explicit AdaptiveMaxPool2d(Size2 output_size);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Size2 output_size;
};

}  // namespace tg::nn
