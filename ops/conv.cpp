// Convolutions and unfold/fold. Three recorded nodes carry every convolution, each the others'
// derivative, so any order of differentiation stays in these kernels:
//   conv2d(x, w, b)            dx = conv_transpose2d(g, w)   dw = conv2d_weight(x, g)  db = sum
//   conv_transpose2d(y, w, b)  dy = conv2d(g, w)             dw = conv2d_weight(g, y)  db = sum
//   conv2d_weight(x, gy)       dx = conv_transpose2d(gy, g)  dgy = conv2d(x, g)
// All three share one geometry (kernels::ConvGeom), described from the forward convolution's
// side; a transposed convolution is recorded with the geometry of the convolution it inverts.
// unfold and fold are each other's adjoint.
#include "tapegrad/ops/conv.h"

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/error.h"
#include "tapegrad/ops/kernels/conv.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;
using kernels::ConvGeom;

Padding2::Padding2(const std::string& m) {
  if (m == "same")
    mode = Mode::Same;
  else if (m == "valid")
    mode = Mode::Valid;
  else
    throw Error(
        detail::concat("conv: padding must be sizes, \"same\" or \"valid\", got \"", m, "\""));
}

namespace {

// ---- the three nodes (inputs already checked) ----

Tensor conv_op(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g);
Tensor conv_transpose_op(const Tensor& y, const Tensor& w, const Tensor& b, const ConvGeom& g);
Tensor conv_weight_op(const Tensor& x, const Tensor& gy, const ConvGeom& g);

// The bias gradient: g summed over batch and positions per channel (a kernel; the generic
// reduction over dims {0, 2, 3} took 40% of a small convolution's step). Its derivative
// broadcasts back.
Tensor bias_grad(const Tensor& g) {
  Tensor out = kernels::channel_sum(g.detach().contiguous());
  const Shape shape = g.shape();
  return record("conv_bias_grad", {g}, out, [shape](const Tensor& gg, const Saved&) {
    return grads{gg.reshape({1, shape[1], 1, 1}).expand(shape)};
  });
}

Tensor conv_op(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& geom) {
  Tensor out = kernels::conv2d_forward(x.detach().contiguous(), w.detach().contiguous(),
                                       b.defined() ? b.detach().contiguous() : Tensor(), geom);
  return record("conv2d", {x, w, b}, out, {x, w}, [geom](const Tensor& g, const Saved& s) {
    return grads{s.needs_grad(0) ? conv_transpose_op(g, s[1], {}, geom) : Tensor(),
                 s.needs_grad(1) ? conv_weight_op(s[0], g, geom) : Tensor(),
                 s.needs_grad(2) ? bias_grad(g) : Tensor()};
  });
}

// y has the convolution's output shape; the result has its input shape.
Tensor conv_transpose_op(const Tensor& y, const Tensor& w, const Tensor& b, const ConvGeom& geom) {
  Tensor out = kernels::conv2d_input_grad(y.detach().contiguous(), w.detach().contiguous(),
                                          b.defined() ? b.detach().contiguous() : Tensor(), geom);
  return record("conv_transpose2d", {y, w, b}, out, {y, w},
                [geom](const Tensor& g, const Saved& s) {
                  return grads{s.needs_grad(0) ? conv_op(g, s[1], {}, geom) : Tensor(),
                               s.needs_grad(1) ? conv_weight_op(g, s[0], geom) : Tensor(),
                               s.needs_grad(2) ? bias_grad(g) : Tensor()};
                });
}

Tensor conv_weight_op(const Tensor& x, const Tensor& gy, const ConvGeom& geom) {
  Tensor out = kernels::conv2d_weight_grad(x.detach().contiguous(), gy.detach().contiguous(), geom);
  return record("conv2d_weight", {x, gy}, out, {x, gy}, [geom](const Tensor& g, const Saved& s) {
    return grads{s.needs_grad(0) ? conv_transpose_op(s[1], g, {}, geom) : Tensor(),
                 s.needs_grad(1) ? conv_op(s[0], g, {}, geom) : Tensor()};
  });
}

Tensor fold_op(const Tensor& cols, const ConvGeom& geom);

Tensor unfold_op(const Tensor& x, const ConvGeom& geom) {
  Tensor out = kernels::im2col(x.detach().contiguous(), geom);
  return record("unfold", {x}, out,
                [geom](const Tensor& g, const Saved&) { return grads{fold_op(g, geom)}; });
}

Tensor fold_op(const Tensor& cols, const ConvGeom& geom) {
  Tensor out = kernels::col2im(cols.detach().contiguous(), geom);
  return record("fold", {cols}, out,
                [geom](const Tensor& g, const Saved&) { return grads{unfold_op(g, geom)}; });
}

// ---- argument checks ----

std::string pair_str(std::int64_t a, std::int64_t b) {
  return detail::concat("(", a, ", ", b, ")");
}

void check_tensor(const char* op, const char* what, const Tensor& t, std::int64_t dims,
                  const char* layout) {
  TG_CHECK(t.defined(), op, ": ", what, " is undefined");
  TG_CHECK(t.dim() == dims, op, ": expected a ", dims, "-d ", what, " ", layout, ", got shape ",
           shape_str(t.shape()));
  TG_CHECK(t.is_floating_point(), op, ": expected a floating-point ", what, ", got ", t.dtype());
}

void check_same_dtype(const char* op, const Tensor& input, const Tensor& t, const char* what) {
  TG_CHECK(t.dtype() == input.dtype(), op, ": ", what, " dtype ", t.dtype(),
           " differs from input dtype ", input.dtype());
}

void check_bias(const char* op, const Tensor& input, const Tensor& bias, std::int64_t channels) {
  if (!bias.defined()) return;
  TG_CHECK(bias.dim() == 1 && bias.size(0) == channels, op, ": bias must have shape [", channels,
           "], got ", shape_str(bias.shape()));
  check_same_dtype(op, input, bias, "bias");
}

void check_positive(const char* op, const char* what, Size2 v) {
  TG_CHECK(v.h > 0 && v.w > 0, op, ": ", what, " must be positive, got ", pair_str(v.h, v.w));
}

// Fills the geometry's output size from the input size, kernel and total padding per dim (top
// + bottom), refusing a kernel that does not fit the padded input.
void set_output_size(const char* op, ConvGeom& g, std::int64_t pad_h, std::int64_t pad_w) {
  const std::int64_t ext_h = g.dh * (g.kh - 1) + 1, ext_w = g.dw * (g.kw - 1) + 1;
  TG_CHECK(g.H + pad_h >= ext_h && g.W + pad_w >= ext_w, op, ": kernel size ", pair_str(g.kh, g.kw),
           " with dilation ", pair_str(g.dh, g.dw), " spans ", pair_str(ext_h, ext_w),
           ", larger than the padded input ", pair_str(g.H + pad_h, g.W + pad_w));
  g.OH = (g.H + pad_h - ext_h) / g.sh + 1;
  g.OW = (g.W + pad_w - ext_w) / g.sw + 1;
}

// The geometry of a convolution over input [N, C, H, W] with a kernel of kh x kw and O outputs.
ConvGeom conv_geometry(const char* op, const Tensor& input, std::int64_t O, Size2 kernel,
                       Size2 stride, Padding2 padding, Size2 dilation, std::int64_t groups) {
  check_positive(op, "stride", stride);
  check_positive(op, "dilation", dilation);
  check_positive(op, "kernel size", kernel);
  TG_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  ConvGeom g;
  g.C = input.size(1);
  g.H = input.size(2);
  g.W = input.size(3);
  g.O = O;
  g.kh = kernel.h;
  g.kw = kernel.w;
  g.sh = stride.h;
  g.sw = stride.w;
  g.dh = dilation.h;
  g.dw = dilation.w;
  g.groups = groups;
  std::int64_t pad_h = 0, pad_w = 0;
  switch (padding.mode) {
    case Padding2::Mode::Explicit:
      TG_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ",
               pair_str(padding.h, padding.w));
      g.ph = padding.h;
      g.pw = padding.w;
      pad_h = 2 * padding.h;
      pad_w = 2 * padding.w;
      break;
    case Padding2::Mode::Valid:
      break;
    case Padding2::Mode::Same:
      TG_CHECK(stride.h == 1 && stride.w == 1, op,
               ": padding=\"same\" is not supported for strided convolutions (stride ",
               pair_str(stride.h, stride.w), ")");
      // Odd totals put the extra row/column at the bottom/right, like PyTorch.
      pad_h = g.dh * (g.kh - 1);
      pad_w = g.dw * (g.kw - 1);
      g.ph = pad_h / 2;
      g.pw = pad_w / 2;
      break;
  }
  set_output_size(op, g, pad_h, pad_w);
  return g;
}

// input [N, C, H, W] against weight [O, C / groups, kh, kw].
void check_channels(const char* op, const Tensor& input, const Tensor& weight,
                    std::int64_t groups) {
  const std::int64_t C = input.size(1), O = weight.size(0);
  TG_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  TG_CHECK(C % groups == 0, op, ": groups=", groups, " does not divide the input channels (", C,
           ")");
  TG_CHECK(O % groups == 0, op, ": groups=", groups, " does not divide the output channels (", O,
           ")");
  TG_CHECK(weight.size(1) * groups == C, op, ": weight of shape ", shape_str(weight.shape()),
           " with groups=", groups, " expects ", weight.size(1) * groups,
           " input channels, got input of shape ", shape_str(input.shape()), " with ", C);
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Size2 stride,
              Padding2 padding, Size2 dilation, std::int64_t groups) {
  const char* op = "conv2d";
  check_tensor(op, "input", input, 4, "[N, C, H, W]");
  check_tensor(op, "weight", weight, 4, "[out_channels, in_channels / groups, kh, kw]");
  check_same_dtype(op, input, weight, "weight");
  check_channels(op, input, weight, groups);
  check_bias(op, input, bias, weight.size(0));
  const ConvGeom g = conv_geometry(op, input, weight.size(0), {weight.size(2), weight.size(3)},
                                   stride, padding, dilation, groups);
  return conv_op(input, weight, bias, g);
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::int64_t stride,
              Padding2 padding, std::int64_t dilation, std::int64_t groups) {
  const char* op = "conv1d";
  check_tensor(op, "input", input, 3, "[N, C, L]");
  check_tensor(op, "weight", weight, 3, "[out_channels, in_channels / groups, k]");
  TG_CHECK(padding.mode != Padding2::Mode::Explicit || padding.h == padding.w, op,
           ": padding must be one size, got ", pair_str(padding.h, padding.w));
  check_same_dtype(op, input, weight, "weight");
  check_channels(op, input, weight, groups);
  check_bias(op, input, bias, weight.size(0));
  const Padding2 pad2 = padding.mode == Padding2::Mode::Explicit ? Padding2(0, padding.w) : padding;
  try {
    return conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, {1, stride}, pad2, {1, dilation},
                  groups)
        .squeeze(2);
  } catch (const Error& e) {  // name the op the user called
    const std::string msg = e.what();
    throw Error(msg.rfind("conv2d", 0) == 0 ? "conv1d" + msg.substr(6) : msg);
  }
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Size2 stride,
                        Size2 padding, Size2 output_padding, std::int64_t groups, Size2 dilation) {
  const char* op = "conv_transpose2d";
  check_tensor(op, "input", input, 4, "[N, C, H, W]");
  check_tensor(op, "weight", weight, 4, "[in_channels, out_channels / groups, kh, kw]");
  check_same_dtype(op, input, weight, "weight");
  TG_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  const std::int64_t Cin = input.size(1), Cout = weight.size(1) * groups;
  TG_CHECK(weight.size(0) == Cin, op, ": weight of shape ", shape_str(weight.shape()), " expects ",
           weight.size(0), " input channels, got input of shape ", shape_str(input.shape()),
           " with ", Cin);
  TG_CHECK(Cin % groups == 0, op, ": groups=", groups, " does not divide the input channels (", Cin,
           ")");
  check_bias(op, input, bias, Cout);
  check_positive(op, "stride", stride);
  check_positive(op, "dilation", dilation);
  TG_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ",
           pair_str(padding.h, padding.w));
  TG_CHECK(output_padding.h >= 0 && output_padding.w >= 0 &&
               (output_padding.h < stride.h || output_padding.h < dilation.h) &&
               (output_padding.w < stride.w || output_padding.w < dilation.w),
           op, ": output_padding ", pair_str(output_padding.h, output_padding.w),
           " must be non-negative and smaller than either stride ", pair_str(stride.h, stride.w),
           " or dilation ", pair_str(dilation.h, dilation.w));
  const std::int64_t kh = weight.size(2), kw = weight.size(3);
  TG_CHECK(kh > 0 && kw > 0, op, ": kernel size must be positive, got ", pair_str(kh, kw));
  const std::int64_t H = input.size(2), W = input.size(3);
  const std::int64_t OH =
      (H - 1) * stride.h - 2 * padding.h + dilation.h * (kh - 1) + output_padding.h + 1;
  const std::int64_t OW =
      (W - 1) * stride.w - 2 * padding.w + dilation.w * (kw - 1) + output_padding.w + 1;
  TG_CHECK(H > 0 && W > 0 && OH > 0 && OW > 0, op, ": input of shape ", shape_str(input.shape()),
           " gives output size ", pair_str(OH, OW), ", which is not positive");
  // The convolution this op is the adjoint of: from [N, Cout, OH, OW] to the input's size.
  ConvGeom g;
  g.C = Cout;
  g.H = OH;
  g.W = OW;
  g.O = Cin;
  g.kh = kh;
  g.kw = kw;
  g.sh = stride.h;
  g.sw = stride.w;
  g.ph = padding.h;
  g.pw = padding.w;
  g.dh = dilation.h;
  g.dw = dilation.w;
  g.groups = groups;
  g.OH = H;
  g.OW = W;
  return conv_transpose_op(input, weight, bias, g);
}

Tensor conv2d_weight(const Tensor& input, Size2 kernel_size, const Tensor& grad_output,
                     Size2 stride, Size2 padding, Size2 dilation, std::int64_t groups) {
  const char* op = "conv2d_weight";
  check_tensor(op, "input", input, 4, "[N, C, H, W]");
  check_tensor(op, "grad_output", grad_output, 4, "[N, O, OH, OW]");
  check_same_dtype(op, input, grad_output, "grad_output");
  TG_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  const std::int64_t C = input.size(1), O = grad_output.size(1);
  TG_CHECK(C % groups == 0 && O % groups == 0, op, ": groups=", groups,
           " does not divide the channels (input ", C, ", output ", O, ")");
  const ConvGeom g = conv_geometry(op, input, O, kernel_size, stride,
                                   Padding2(padding.h, padding.w), dilation, groups);
  TG_CHECK(grad_output.size(0) == input.size(0) && grad_output.size(2) == g.OH &&
               grad_output.size(3) == g.OW,
           op, ": grad_output of shape ", shape_str(grad_output.shape()),
           " does not match the convolution's output [", input.size(0), ", ", O, ", ", g.OH, ", ",
           g.OW, "]");
  return conv_weight_op(input, grad_output, g);
}

Tensor unfold(const Tensor& input, Size2 kernel_size, Size2 dilation, Size2 padding, Size2 stride) {
  const char* op = "unfold";
  check_tensor(op, "input", input, 4, "[N, C, H, W]");
  const ConvGeom g =
      conv_geometry(op, input, 1, kernel_size, stride, Padding2(padding.h, padding.w), dilation, 1);
  return unfold_op(input, g);
}

Tensor fold(const Tensor& input, Size2 output_size, Size2 kernel_size, Size2 dilation,
            Size2 padding, Size2 stride) {
  const char* op = "fold";
  check_tensor(op, "input", input, 3, "[N, C * kh * kw, L]");
  check_positive(op, "kernel size", kernel_size);
  check_positive(op, "output size", output_size);
  const std::int64_t block = kernel_size.h * kernel_size.w;
  TG_CHECK(input.size(1) % block == 0, op, ": input of shape ", shape_str(input.shape()), " has ",
           input.size(1), " rows, not a multiple of the kernel size ",
           pair_str(kernel_size.h, kernel_size.w), " (", block, ")");
  // The geometry of the unfold this inverts: an image of output_size with C channels.
  const Tensor image_shape = empty({0, input.size(1) / block, output_size.h, output_size.w});
  const ConvGeom g = conv_geometry(op, image_shape, 1, kernel_size, stride,
                                   Padding2(padding.h, padding.w), dilation, 1);
  TG_CHECK(input.size(2) == g.OH * g.OW, op, ": input of shape ", shape_str(input.shape()), " has ",
           input.size(2), " blocks, but output size ", pair_str(output_size.h, output_size.w),
           " gives ", pair_str(g.OH, g.OW), " = ", g.OH * g.OW);
  return fold_op(input, g);
}

}  // namespace tg::nn::functional
