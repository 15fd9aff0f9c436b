// operator<< for tensors, in PyTorch's style: nested brackets, aligned columns, the middle of
// long dims elided, then shape and dtype.
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "tapegrad/core/tensor.h"

namespace tg {
namespace {
constexpr std::int64_t kEdge = 3;         // elements shown at each end of an elided dim
constexpr std::int64_t kThreshold = 1000;  // elide when there are more elements than this

std::string format_value(double v, bool floating, int precision) {
  std::ostringstream os;
  if (!floating) {
    os << static_cast<long long>(v);
  } else if (std::isnan(v)) {
    os << "nan";
  } else if (std::isinf(v)) {
    os << (v < 0 ? "-inf" : "inf");
  } else {
    os << std::fixed << std::setprecision(precision) << v;
  }
  return os.str();
}

struct Printer {
  const std::vector<double>& values;
  const Shape& shape;
  bool floating;
  bool elide;
  int precision;
  std::size_t width;

  void print(std::ostream& os, std::size_t dim, std::int64_t base, int indent) const {
    if (dim == shape.size()) {
      const std::string s = format_value(values[static_cast<std::size_t>(base)], floating, precision);
      os << std::string(width - s.size(), ' ') << s;
      return;
    }
    const std::int64_t n = shape[dim];
    std::int64_t stride = 1;
    for (std::size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
    os << '[';
    const bool cut = elide && n > 2 * kEdge;
    for (std::int64_t i = 0; i < n; ++i) {
      if (cut && i == kEdge) {
        i = n - kEdge;
        os << (dim + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      }
      print(os, dim + 1, base + i * stride, indent + 1);
      if (i + 1 < n) {
        if (dim + 1 == shape.size()) os << ", ";
        else os << ',' << std::string(shape.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
      }
    }
    os << ']';
  }
};
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const auto values = t.to_vector<double>();
  const bool floating = t.is_floating_point();
  bool whole = true;
  double maxabs = 0;
  for (double v : values) {
    if (std::isfinite(v)) {
      whole = whole && v == std::floor(v);
      maxabs = std::max(maxabs, std::abs(v));
    }
  }
  const int precision = floating ? (whole && maxabs < 1e8 ? 1 : 4) : 0;
  std::size_t width = 1;
  for (double v : values) width = std::max(width, format_value(v, floating, precision).size());
  os << "tensor(";
  Printer{values, t.shape(), floating, t.numel() > kThreshold, precision, width}.print(
      os, 0, 0, static_cast<int>(std::string("tensor(").size()));
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << t.dtype();
  if (t.requires_grad()) os << ", requires_grad=true";
  return os << ')';
}

}  // namespace tg
