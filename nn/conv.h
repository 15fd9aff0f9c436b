#pragma once
// Convolution layers, spelled like torch.nn: Conv1d, Conv2d, ConvTranspose2d. Parameters are
// named and shaped as PyTorch's (`weight` [out, in / groups, kh, kw], transposed [in,
// out / groups, kh, kw]; `bias` [out]), so state dicts move through safetensors unchanged.
// PyTorch's default init: weight by kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) with fan_in = weight.size(1) * kh * kw, and bias by the same bound.
// Only zero padding (padding_mode "zeros").
#include <cstdint>
#include <string>

#include "tapegrad/nn/module.h"
#include "tapegrad/ops/conv.h"

namespace tg::nn {

using functional::Padding2;
using functional::Size2;

struct Conv1dOptions {
  std::int64_t stride = 1;
  Padding2 padding = 0;  // a size, "same" or "valid"
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

struct Conv2dOptions {
  Size2 stride = 1;
  Padding2 padding = 0;  // sizes, "same" or "valid"
  Size2 dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  std::int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
};

// [N, in_channels, L] -> [N, out_channels, L_out].
class Conv1d : public OwningModule {
 public:
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         const Conv1dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor weight;  // [out_channels, in_channels / groups, kernel_size]
  Tensor bias;    // [out_channels], undefined without bias
};

// [N, in_channels, H, W] -> [N, out_channels, OH, OW].
class Conv2d : public OwningModule {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
         const Conv2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
  Tensor weight;  // [out_channels, in_channels / groups, kh, kw]
  Tensor bias;    // [out_channels], undefined without bias
};

// [N, in_channels, H, W] -> [N, out_channels, OH, OW], OH = (H - 1) * stride - 2 * padding +
// dilation * (kh - 1) + output_padding + 1.
class ConvTranspose2d : public OwningModule {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
                  const ConvTranspose2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels;
  Size2 kernel_size;
  ConvTranspose2dOptions options;
  Tensor weight;  // [in_channels, out_channels / groups, kh, kw]
  Tensor bias;    // [out_channels], undefined without bias
};

}  // namespace tg::nn
