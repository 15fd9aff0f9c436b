// operator<< for tensors, in PyTorch's style: nested brackets, aligned columns, the middle of
// long dims elided, then shape and dtype. Only the printed elements are read (a summarized 10M-
// element tensor touches 6 per elided dim, as PyTorch's summarize does), the column width is
// computed over those, and integers print exactly (int64 is never routed through double).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/core/detail/tensor_impl.h"
#include "tapegrad/core/tensor.h"

namespace tg {
namespace {
constexpr std::int64_t kEdge = 3;          // elements shown at each end of an elided dim
constexpr std::int64_t kThreshold = 1000;  // elide when there are more elements than this

std::string format_float(double v, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

// The printed elements in print order, read straight from storage (no copy of the tensor).
struct Printed {
  const Tensor& t;
  const std::vector<std::vector<std::int64_t>>& kept;  // indices shown along each dim
  std::vector<double> floats;
  std::vector<std::int64_t> ints;

  template <typename T>
  void collect(const T* data, std::size_t dim, std::int64_t off) {
    if (dim == kept.size()) {
      if constexpr (std::is_floating_point_v<T>)
        floats.push_back(static_cast<double>(data[off]));
      else
        ints.push_back(static_cast<std::int64_t>(data[off]));
      return;
    }
    for (auto i : kept[dim]) collect(data, dim + 1, off + i * t.strides()[dim]);
  }
};

struct Printer {
  const Shape& shape;
  const std::vector<std::vector<std::int64_t>>& kept;
  const std::vector<std::string>& cells;
  std::size_t width;
  std::size_t next = 0;

  void print(std::ostream& os, std::size_t dim, int indent) {
    if (dim == shape.size()) {
      const std::string& s = cells[next++];
      os << std::string(width - s.size(), ' ') << s;
      return;
    }
    const auto& idx = kept[dim];
    const bool last_dim = dim + 1 == shape.size();
    os << '[';
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) {
        if (last_dim)
          os << ", ";
        else
          os << ',' << std::string(shape.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
        if (idx[k] != idx[k - 1] + 1)  // the elided middle
          os << (last_dim ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      }
      print(os, dim + 1, indent + 1);
    }
    os << ']';
  }
};
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const Shape& shape = t.shape();
  const bool elide = t.numel() > kThreshold;
  std::vector<std::vector<std::int64_t>> kept(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    const std::int64_t n = shape[d];
    const bool cut = elide && n > 2 * kEdge;
    for (std::int64_t i = 0; i < n; ++i) {
      if (cut && i == kEdge) i = n - kEdge;
      kept[d].push_back(i);
    }
  }
  Printed printed{t, kept, {}, {}};
  if (t.numel() > 0) {
    dispatch(t.dtype(), [&]<typename T>() {
      printed.collect(static_cast<const T*>(t.impl()->storage->data()), 0, t.offset());
    });
  }

  std::vector<std::string> cells;
  if (t.is_floating_point()) {
    bool whole = true;
    double maxabs = 0;
    for (double v : printed.floats) {
      if (std::isfinite(v)) {
        whole = whole && v == std::floor(v);
        maxabs = std::max(maxabs, std::abs(v));
      }
    }
    const int precision = whole && maxabs < 1e8 ? 1 : 4;
    for (double v : printed.floats) cells.push_back(format_float(v, precision));
  } else {
    for (std::int64_t v : printed.ints) cells.push_back(std::to_string(v));
  }
  std::size_t width = 1;
  for (const auto& c : cells) width = std::max(width, c.size());

  os << "tensor(";
  Printer{shape, kept, cells, width}.print(os, 0, static_cast<int>(std::string("tensor(").size()));
  os << ", shape=" << shape_str(shape) << ", dtype=" << t.dtype();
  if (t.requires_grad()) os << ", requires_grad=true";
  return os << ')';
}

}  // namespace tg
