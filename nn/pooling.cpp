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
std::string show(std::int64_t v) { return std::to_string(v); }
const char* show(bool b) { return b ? "true" : "false"; }
// A 2-d stride left out (cleared after construction) prints as the kernel size, a 1-d one as None.
std::string show_stride(const PoolStride& s, const Size2& kernel) {
  return show(s.value.value_or(kernel));
}
std::string show_stride(const std::optional<std::int64_t>& s, std::int64_t) { return show(s); }

// MaxPool1d and MaxPool2d print the same fields.
template <typename Pool>
std::string max_pool_repr(const Pool& pool) {
  const auto& o = pool.options;
  std::ostringstream os;
  os << "kernel_size=" << show(pool.kernel_size)
     << ", stride=" << show_stride(o.stride, pool.kernel_size) << ", padding=" << show(o.padding)
     << ", dilation=" << show(o.dilation) << ", ceil_mode=" << show(o.ceil_mode);
  return os.str();
}
}  // namespace

Tensor MaxPool2d::forward(const Tensor& x) {
  return functional::max_pool2d(x, kernel_size, options.stride, options.padding, options.dilation,
                                options.ceil_mode);
}
std::string MaxPool2d::extra_repr() const { return max_pool_repr(*this); }

Tensor MaxPool1d::forward(const Tensor& x) {
  return functional::max_pool1d(x, kernel_size, options.stride, options.padding, options.dilation,
                                options.ceil_mode);
}
std::string MaxPool1d::extra_repr() const { return max_pool_repr(*this); }

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

AdaptivePool2d::AdaptivePool2d(const char* layer, Size2 out) : output_size(out) {
  TG_CHECK(out.h >= 0 && out.w >= 0, layer, ": output_size must be non-negative, got [", out.h,
           ", ", out.w, "]");
}
std::string AdaptivePool2d::extra_repr() const { return "output_size=" + show(output_size); }

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return functional::adaptive_avg_pool2d(x, output_size);
}
Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  return functional::adaptive_max_pool2d(x, output_size);
}

}  // namespace tg::nn
