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

// What the convolution layers share: channel counts, kernel size, options, the parameters
// `weight` and `bias` ([out_channels], undefined without bias) and their init. Each layer adds
// forward and repr.
template <typename Kernel, typename Options>
class ConvNd : public OwningModule {
 public:
  void reset_parameters();

  std::int64_t in_channels, out_channels;
  Kernel kernel_size;
  Options options;
  Tensor weight;
  Tensor bias;

 protected:
  // Checks the sizes (errors name `layer`) and makes the parameters; the weight is
  // [out, in / groups, kernel...], or [in, out / groups, kernel...] when `transposed`.
  ConvNd(const char* layer, std::int64_t in, std::int64_t out, Kernel kernel, const Options& opts,
         bool transposed);
};
// Defined in conv.cpp, for the three layers below.
extern template class ConvNd<std::int64_t, Conv1dOptions>;
extern template class ConvNd<Size2, Conv2dOptions>;
extern template class ConvNd<Size2, ConvTranspose2dOptions>;

// [N, in_channels, L] -> [N, out_channels, L_out]; weight [out_channels, in_channels / groups,
// kernel_size].
class Conv1d : public ConvNd<std::int64_t, Conv1dOptions> {
 public:
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         const Conv1dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

// [N, in_channels, H, W] -> [N, out_channels, OH, OW]; weight [out_channels, in_channels /
// groups, kh, kw].
class Conv2d : public ConvNd<Size2, Conv2dOptions> {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
         const Conv2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

// [N, in_channels, H, W] -> [N, out_channels, OH, OW], OH = (H - 1) * stride - 2 * padding +
// dilation * (kh - 1) + output_padding + 1; weight [in_channels, out_channels / groups, kh, kw].
class ConvTranspose2d : public ConvNd<Size2, ConvTranspose2dOptions> {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
                  const ConvTranspose2dOptions& options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
};

}  // namespace tg::nn
