#include "tapegrad/nn/pooling.h"

#include <sstream>

#include "tapegrad/core/error.h"

namespace tg::nn {

namespace {
// PyTorch prints an int setting as "2" and a pair as "(2, 3)"; an equal pair here prints as one
// int, the way it is usually given.
std::string show(const Size2& s) {
  std::ostringstream os;
  if (s.h == s.w)
    os << s.h;
  else
    os << "(" << s.h << ", " << s.w << ")";
  return os.str();
}
std::string show(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("None");
}
const char* show(bool b) { return b ? "true" : "false"; }
}  // namespace

MaxPool2d::MaxPool2d(Size2 k, const MaxPool2dOptions& o) : kernel_size(k), options(o) {
  if (!options.stride.value) options.stride = kernel_size;
}
Tensor MaxPool2d::forward(const Tensor& x) {
  return functional::max_pool2d(x, kernel_size, options.stride, options.padding, options.dilation,
                                options.ceil_mode);
}
std::string MaxPool2d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=" << show(kernel_size)
     << ", stride=" << show(options.stride.value.value_or(kernel_size))
     << ", padding=" << show(options.padding) << ", dilation=" << show(options.dilation)
     << ", ceil_mode=" << show(options.ceil_mode);
  return os.str();
}

MaxPool1d::MaxPool1d(std::int64_t k, const MaxPool1dOptions& o) : kernel_size(k), options(o) {
  if (!options.stride) options.stride = kernel_size;
}
Tensor MaxPool1d::forward(const Tensor& x) {
  return functional::max_pool1d(x, kernel_size, options.stride, options.padding, options.dilation,
                                options.ceil_mode);
}
std::string MaxPool1d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=" << kernel_size << ", stride=" << show(options.stride)
     << ", padding=" << options.padding << ", dilation=" << options.dilation
     << ", ceil_mode=" << show(options.ceil_mode);
  return os.str();
}

AvgPool2d::AvgPool2d(Size2 k, const AvgPool2dOptions& o) : kernel_size(k), options(o) {
  if (!options.stride.value) options.stride = kernel_size;
}
Tensor AvgPool2d::forward(const Tensor& x) {
  return functional::avg_pool2d(x, kernel_size, options.stride, options.padding, options.ceil_mode,
                                options.count_include_pad, options.divisor_override);
}
std::string AvgPool2d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=" << show(kernel_size)
     << ", stride=" << show(options.stride.value.value_or(kernel_size))
     << ", padding=" << show(options.padding);
  if (options.ceil_mode) os << ", ceil_mode=true";
  if (!options.count_include_pad) os << ", count_include_pad=false";
  if (options.divisor_override) os << ", divisor_override=" << *options.divisor_override;
  return os.str();
}

AvgPool1d::AvgPool1d(std::int64_t k, const AvgPool1dOptions& o) : kernel_size(k), options(o) {
  if (!options.stride) options.stride = kernel_size;
}
Tensor AvgPool1d::forward(const Tensor& x) {
  return functional::avg_pool1d(x, kernel_size, options.stride, options.padding, options.ceil_mode,
                                options.count_include_pad);
}
std::string AvgPool1d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=(" << kernel_size << ",), stride=(" << show(options.stride) << ",), padding=("
     << options.padding << ",)";
  return os.str();
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 out) : output_size(out) {
  TG_CHECK(out.h >= 0 && out.w >= 0, "AdaptiveAvgPool2d: output_size must be non-negative, got [",
           out.h, ", ", out.w, "]");
}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return functional::adaptive_avg_pool2d(x, output_size);
}
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + show(output_size); }

AdaptiveMaxPool2d::AdaptiveMaxPool2d(Size2 out) : output_size(out) {
  TG_CHECK(out.h >= 0 && out.w >= 0, "AdaptiveMaxPool2d: output_size must be non-negative, got [",
           out.h, ", ", out.w, "]");
}
Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  return functional::adaptive_max_pool2d(x, output_size);
}
std::string AdaptiveMaxPool2d::extra_repr() const { return "output_size=" + show(output_size); }

}  // namespace tg::nn
