#include "tapegrad/nn/conv.h"

#include <cmath>
#include <sstream>
#include <type_traits>

#include "tapegrad/core/error.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

void check_channels(const char* op, std::int64_t in, std::int64_t out, std::int64_t groups) {
  TG_CHECK(in > 0 && out > 0, op, ": channel counts must be positive, got in_channels=", in,
           ", out_channels=", out);
  TG_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  TG_CHECK(in % groups == 0, op, ": groups=", groups, " does not divide in_channels=", in);
  TG_CHECK(out % groups == 0, op, ": groups=", groups, " does not divide out_channels=", out);
}

void check_kernel(const char* op, Size2 k) {
  TG_CHECK(k.h > 0 && k.w > 0, op, ": kernel_size must be positive, got (", k.h, ", ", k.w, ")");
}

std::string pair(std::int64_t a, std::int64_t b) {
  return tg::detail::concat("(", a, ", ", b, ")");
}
std::string one(std::int64_t a) { return tg::detail::concat("(", a, ",)"); }

std::string padding_repr(const Padding2& p, bool two_d) {
  switch (p.mode) {
    case Padding2::Mode::Same:
      return ", padding=same";
    case Padding2::Mode::Valid:
      return ", padding=valid";
    case Padding2::Mode::Explicit:
      break;
  }
  if (p.h == 0 && p.w == 0) return {};
  return ", padding=" + (two_d ? pair(p.h, p.w) : one(p.w));
}

}  // namespace

// ---- shared ----

template <typename Kernel, typename Options>
ConvNd<Kernel, Options>::ConvNd(const char* layer, std::int64_t in, std::int64_t out, Kernel k,
                                const Options& o, bool transposed)
    : in_channels(in), out_channels(out), kernel_size(k), options(o) {
  check_channels(layer, in, out, o.groups);
  Shape shape = transposed ? Shape{in, out / o.groups} : Shape{out, in / o.groups};
  if constexpr (std::is_same_v<Kernel, std::int64_t>) {
    check_kernel(layer, {1, k});
    TG_CHECK(o.padding.mode != Padding2::Mode::Explicit || o.padding.h == o.padding.w, layer,
             ": padding must be one size, got (", o.padding.h, ", ", o.padding.w, ")");
    shape.push_back(k);
  } else {
    check_kernel(layer, k);
    shape.push_back(k.h);
    shape.push_back(k.w);
  }
  weight = register_parameter("weight", empty(shape));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

// PyTorch's reset_parameters of _ConvNd: kaiming_uniform_(a = sqrt(5)) on the weight, whose
// fan_in is weight.size(1) * kernel elements; the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <typename Kernel, typename Options>
void ConvNd<Kernel, Options>::reset_parameters() {
  init::kaiming_uniform_(weight, {.a = std::sqrt(5.0)});
  if (bias.defined()) {
    const auto fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

template class ConvNd<std::int64_t, Conv1dOptions>;
template class ConvNd<Size2, Conv2dOptions>;
template class ConvNd<Size2, ConvTranspose2dOptions>;

// ---- Conv1d ----

Conv1d::Conv1d(std::int64_t in, std::int64_t out, std::int64_t k, const Conv1dOptions& o)
    : ConvNd("Conv1d", in, out, k, o, /*transposed=*/false) {}

Tensor Conv1d::forward(const Tensor& x) {
  return functional::conv1d(x, weight, bias, options.stride, options.padding, options.dilation,
                            options.groups);
}

std::string Conv1d::extra_repr() const {
  std::ostringstream os;
  os << in_channels << ", " << out_channels << ", kernel_size=" << one(kernel_size)
     << ", stride=" << one(options.stride) << padding_repr(options.padding, false);
  if (options.dilation != 1) os << ", dilation=" << one(options.dilation);
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!bias.defined()) os << ", bias=False";
  return os.str();
}

// ---- Conv2d ----

Conv2d::Conv2d(std::int64_t in, std::int64_t out, Size2 k, const Conv2dOptions& o)
    : ConvNd("Conv2d", in, out, k, o, /*transposed=*/false) {}

Tensor Conv2d::forward(const Tensor& x) {
  return functional::conv2d(x, weight, bias, options.stride, options.padding, options.dilation,
                            options.groups);
}

std::string Conv2d::extra_repr() const {
  std::ostringstream os;
  os << in_channels << ", " << out_channels
     << ", kernel_size=" << pair(kernel_size.h, kernel_size.w)
     << ", stride=" << pair(options.stride.h, options.stride.w)
     << padding_repr(options.padding, true);
  if (options.dilation.h != 1 || options.dilation.w != 1)
    os << ", dilation=" << pair(options.dilation.h, options.dilation.w);
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!bias.defined()) os << ", bias=False";
  return os.str();
}

// ---- ConvTranspose2d ----

ConvTranspose2d::ConvTranspose2d(std::int64_t in, std::int64_t out, Size2 k,
                                 const ConvTranspose2dOptions& o)
    : ConvNd("ConvTranspose2d", in, out, k, o, /*transposed=*/true) {}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return functional::conv_transpose2d(x, weight, bias, options.stride, options.padding,
                                      options.output_padding, options.groups, options.dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  std::ostringstream os;
  os << in_channels << ", " << out_channels
     << ", kernel_size=" << pair(kernel_size.h, kernel_size.w)
     << ", stride=" << pair(options.stride.h, options.stride.w);
  if (options.padding.h != 0 || options.padding.w != 0)
    os << ", padding=" << pair(options.padding.h, options.padding.w);
  if (options.output_padding.h != 0 || options.output_padding.w != 0)
    os << ", output_padding=" << pair(options.output_padding.h, options.output_padding.w);
  if (options.dilation.h != 1 || options.dilation.w != 1)
    os << ", dilation=" << pair(options.dilation.h, options.dilation.w);
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!bias.defined()) os << ", bias=False";
  return os.str();
}

}  // namespace tg::nn
