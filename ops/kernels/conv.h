#pragma once
// Convolution kernels (no autograd): im2col + GEMM through the panel engine of gemm.h. Internal
// to ops/conv.cpp and the pooling family.
//
// Everything is described from the side of a forward convolution: input [N, C, H, W], weight
// [O, C / groups, kh, kw], output [N, O, OH, OW]. A transposed convolution is the input-gradient
// kernel with its roles swapped. Padding is given at the top/left only: the bottom/right
// padding follows from OH/OW (so "same" with an even kernel, which pads one more on the right,
// needs no extra case).
#include <cstdint>

#include "tapegrad/core/tensor.h"

namespace tg::kernels {

struct ConvGeom {
  std::int64_t C = 0, H = 0, W = 0;  // input channels and size
  std::int64_t O = 0;                // output channels
  std::int64_t kh = 1, kw = 1;       // kernel
  std::int64_t sh = 1, sw = 1;       // stride
  std::int64_t ph = 0, pw = 0;       // padding at the top / left
  std::int64_t dh = 1, dw = 1;       // dilation
  std::int64_t groups = 1;
  std::int64_t OH = 0, OW = 0;                                // output size
  std::int64_t rows() const { return C / groups * kh * kw; }  // im2col rows per group
  std::int64_t cols() const { return OH * OW; }               // im2col columns per sample
};

// Each takes contiguous float32 or float64 tensors of one dtype (callers make them so).
// y = conv(x, w) + b; b may be undefined.
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g);
// d(conv)/dx applied to gy: [N, O, OH, OW] -> [N, C, H, W]; b (size C) added when defined.
// This is also the transposed convolution's forward.
Tensor conv2d_input_grad(const Tensor& gy, const Tensor& w, const Tensor& b, const ConvGeom& g);
// d(conv)/dw applied to gy: sum over the batch of gy (x) im2col(x) -> [O, C / groups, kh, kw].
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const ConvGeom& g);
// Per-channel sums of g [N, C, H, W] -> [C] (the bias gradient), in double, one task per block
// of channels: each channel is summed in one fixed order.
Tensor channel_sum(const Tensor& g);
// [N, C, H, W] -> [N, C * kh * kw, OH * OW] (F.unfold), and its adjoint (F.fold).
Tensor im2col(const Tensor& x, const ConvGeom& g);
Tensor col2im(const Tensor& cols, const ConvGeom& g);

}  // namespace tg::kernels
