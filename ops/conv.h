#pragma once
// Convolutions, spelled like torch.nn.functional: conv1d on [N, C, L], conv2d on [N, C, H, W],
// conv_transpose2d, and unfold / fold (im2col / col2im). Each differentiates twice: the
// backward of a convolution is a transposed convolution (input gradient) and conv2d_weight
// (weight gradient), each a recorded op with its own derivative.
//
// Differences from PyTorch: unbatched inputs ([C, H, W]) are not accepted (add the batch dim
// with unsqueeze(0)); only zero padding (padding_mode "zeros").
#include <cstddef>
#include <cstdint>
#include <string>

#include "tapegrad/core/tensor.h"

namespace tg::nn::functional {

// A pair of sizes (height, width): `3` means {3, 3}.
struct Size2 {
  Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit, like PyTorch's int
  Size2(std::int64_t h_, std::int64_t w_) : h(h_), w(w_) {}
  std::int64_t h, w;
};

// Padding: sizes, or "valid" (none) / "same" (output size = input size; stride 1 only; an odd
// total padding puts the extra row/column at the bottom/right, as PyTorch does).
struct Padding2 {
  enum class Mode { Explicit, Valid, Same };
  Padding2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit
  Padding2(std::int64_t h_, std::int64_t w_) : h(h_), w(w_) {}
  // "same" or "valid" (an array reference, so that a literal 0 still means zero padding).
  template <std::size_t N>
  Padding2(const char (&mode)[N]) : Padding2(std::string(mode)) {}  // NOLINT: implicit
  Padding2(const std::string& mode);                                // NOLINT: implicit
  std::int64_t h = 0, w = 0;
  Mode mode = Mode::Explicit;
};

// input [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] or undefined -> [N, O, OH, OW]
// with OH = (H + 2 * pad - dilation * (kh - 1) - 1) / stride + 1.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1,
              Padding2 padding = 0, Size2 dilation = 1, std::int64_t groups = 1);

// input [N, C, L], weight [O, C / groups, k]: conv2d on a height-1 view.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
              std::int64_t stride = 1, Padding2 padding = 0, std::int64_t dilation = 1,
              std::int64_t groups = 1);

// The adjoint of conv2d in its input (a "deconvolution"): input [N, C, H, W], weight
// [C, O / groups, kh, kw], bias [O] -> [N, O, OH, OW] with
// OH = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
// output_padding must be smaller than stride or dilation. (PyTorch's argument order.)
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
                        Size2 stride = 1, Size2 padding = 0, Size2 output_padding = 0,
                        std::int64_t groups = 1, Size2 dilation = 1);

// The gradient of conv2d with respect to its weight, as a differentiable op (like
// torch.nn.grad.conv2d_weight): input [N, C, H, W], grad_output [N, O, OH, OW] ->
// [O, C / groups, kh, kw] for the convolution with the given geometry.
Tensor conv2d_weight(const Tensor& input, Size2 kernel_size, const Tensor& grad_output,
                     Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1,
                     std::int64_t groups = 1);

// Sliding blocks (F.unfold): input [N, C, H, W] -> [N, C * kh * kw, L], L = OH * OW.
Tensor unfold(const Tensor& input, Size2 kernel_size, Size2 dilation = 1, Size2 padding = 0,
              Size2 stride = 1);
// Sums blocks back into an image (F.fold, the adjoint of unfold): input [N, C * kh * kw, L] ->
// [N, C, output_size.h, output_size.w].
Tensor fold(const Tensor& input, Size2 output_size, Size2 kernel_size, Size2 dilation = 1,
            Size2 padding = 0, Size2 stride = 1);

}  // namespace tg::nn::functional
