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

// The pooling layers with a kernel: the kernel size and the options, whose stride, when not
// given, becomes the kernel size (PyTorch's stride=None). Each layer adds forward and repr.
template <typename Kernel, typename Options>
class PoolNd : public OwningModule {
 public:
  explicit PoolNd(Kernel kernel, const Options& opts = {}) : kernel_size(kernel), options(opts) {
    if (!stride_given(options.stride)) options.stride = kernel_size;
  }

  Kernel kernel_size;
  Options options;

 private:
  static bool stride_given(const PoolStride& s) { return s.value.has_value(); }
  static bool stride_given(const std::optional<std::int64_t>& s) { return s.has_value(); }
};

struct MaxPool2dOptions {
  PoolStride stride = {};  // not given: the kernel size
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

class MaxPool2d : public PoolNd<Size2, MaxPool2dOptions> {
 public:
  using PoolNd::PoolNd;  // (Size2 kernel_size, const MaxPool2dOptions& options = {})
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

struct MaxPool1dOptions {
  std::optional<std::int64_t> stride;  // nullopt: the kernel size
  std::int64_t padding = 0;
  std::int64_t dilation = 1;
  bool ceil_mode = false;
};

class MaxPool1d : public PoolNd<std::int64_t, MaxPool1dOptions> {
 public:
  using PoolNd::PoolNd;  // (std::int64_t kernel_size, const MaxPool1dOptions& options = {})
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

struct AvgPool2dOptions {
  PoolStride stride = {};
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<std::int64_t> divisor_override = std::nullopt;
};

class AvgPool2d : public PoolNd<Size2, AvgPool2dOptions> {
 public:
  using PoolNd::PoolNd;  // (Size2 kernel_size, const AvgPool2dOptions& options = {})
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

struct AvgPool1dOptions {
  std::optional<std::int64_t> stride;
  std::int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

class AvgPool1d : public PoolNd<std::int64_t, AvgPool1dOptions> {
 public:
  using PoolNd::PoolNd;  // (std::int64_t kernel_size, const AvgPool1dOptions& options = {})
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

// The adaptive pooling layers: a non-negative output size (errors name `layer`).
class AdaptivePool2d : public OwningModule {
 public:
  std::string extra_repr() const override;

  Size2 output_size;

 protected:
  AdaptivePool2d(const char* layer, Size2 output_size);
};

class AdaptiveAvgPool2d : public AdaptivePool2d {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size)
      : AdaptivePool2d("AdaptiveAvgPool2d", output_size) {}
  Tensor forward(const Tensor& input) override;
};

class AdaptiveMaxPool2d : public AdaptivePool2d {
 public:
  explicit AdaptiveMaxPool2d(Size2 output_size)
      : AdaptivePool2d("AdaptiveMaxPool2d", output_size) {}
  Tensor forward(const Tensor& input) override;
};

}  // namespace tg::nn
