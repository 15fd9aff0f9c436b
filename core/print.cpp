// operator<< for tensors, following PyTorch 1.13's repr (torch/_tensor_str.py): one formatter for
// the whole tensor picks fixed or scientific notation and a column width from the non-zero finite
// values that are printed; whole-valued floats print as "1."; dims longer than 2 * edgeitems are
// elided when the tensor has more than `threshold` elements; rows wrap at `linewidth`. Only the
// printed elements are read (a summarized 10M-element tensor touches 2 * edgeitems per elided
// dim), and integers print exactly (int64 is never routed through double).
#include "tapegrad/core/print.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/tensor_impl.h"
#include "tapegrad/core/tensor.h"

namespace tg {
namespace {

std::mutex& options_mutex() {
  static std::mutex m;
  return m;
}
PrintOptions& options_storage() {
  static PrintOptions o;
  return o;
}

// printf-style formatting of one double (Python's format() gives the same digits).
std::string printf_double(const char* spec, int precision, double v) {
  if (std::isnan(v)) return "nan";  // never "-nan"
  char buf[512];
  std::snprintf(buf, sizeof buf, spec, precision, v);
  return buf;
}

// PyTorch's _Formatter for floating tensors.
struct FloatFormatter {
  int precision;
  bool int_mode = true;
  bool sci_mode = false;
  std::size_t width = 1;

  FloatFormatter(const std::vector<double>& values, const PrintOptions& o)
      : precision(o.precision) {
    std::vector<double> nz;
    for (double v : values)
      if (std::isfinite(v) && v != 0) nz.push_back(v);
    if (!nz.empty()) {
      double lo = std::abs(nz[0]), hi = lo;
      for (double v : nz) {
        lo = std::min(lo, std::abs(v));
        hi = std::max(hi, std::abs(v));
        int_mode = int_mode && v == std::ceil(v);
      }
      sci_mode = hi / lo > 1000.0 || hi > 1.0e8 || (!int_mode && lo < 1.0e-4);
      for (double v : nz) {
        std::size_t len = sci_mode   ? printf_double("%.*e", precision, v).size()
                          : int_mode ? printf_double("%.*f", 0, v).size() + 1
                                     : printf_double("%.*f", precision, v).size();
        width = std::max(width, len);
      }
    }
    if (o.sci_mode) sci_mode = *o.sci_mode;
  }

  std::string operator()(double v) const {
    std::string s;
    if (sci_mode) {
      s = printf_double("%.*e", precision, v);
    } else if (int_mode) {
      s = printf_double("%.*f", 0, v);
      if (std::isfinite(v)) s += '.';
    } else {
      s = printf_double("%.*f", precision, v);
    }
    return std::string(width > s.size() ? width - s.size() : 0, ' ') + s;
  }
};

// The printed elements in print order, read straight from storage (no copy of the tensor).
struct Printed {
  const Tensor& t;
  const std::vector<std::vector<std::int64_t>>& kept;  // indices shown along each dim
  std::vector<double> floats;
  std::vector<std::string> exact;  // integer and bool elements, already spelled

  template <typename T>
  void collect(const T* data, std::size_t dim, std::int64_t off) {
    if (dim == kept.size()) {
      if constexpr (std::is_floating_point_v<T>)
        floats.push_back(static_cast<double>(data[off]));
      else if constexpr (std::is_same_v<T, bool>)
        exact.emplace_back(data[off] ? "True" : "False");
      else if constexpr (std::is_signed_v<T>)
        exact.push_back(std::to_string(static_cast<std::int64_t>(data[off])));
      else
        exact.push_back(std::to_string(static_cast<std::uint64_t>(data[off])));
      return;
    }
    for (auto i : kept[dim]) collect(data, dim + 1, off + i * t.strides()[dim]);
  }
};

// _tensor_str_with_formatter: nested brackets, "..." for elided parts, rows wrapped.
struct Printer {
  const Shape& shape;
  const std::vector<std::vector<std::int64_t>>& kept;
  const std::vector<std::string>& cells;  // padded to `width`
  std::size_t width;
  const PrintOptions& o;
  bool summarize;
  std::size_t next = 0;

  std::string print(std::size_t dim, std::int64_t indent) {
    if (dim == shape.size()) return cells[next++];  // 0-dim
    if (summarize && o.edgeitems == 0) return "[...]";
    const auto& idx = kept[dim];
    std::vector<std::string> parts;
    const bool last_dim = dim + 1 == shape.size();
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0 && idx[k] != idx[k - 1] + 1) parts.emplace_back(last_dim ? " ..." : "...");
      parts.push_back(last_dim ? cells[next++] : print(dim + 1, indent + 1));
    }
    std::string out = "[";
    if (last_dim) {
      const std::int64_t per_line =
          std::max<std::int64_t>(1, (o.linewidth - indent) / static_cast<std::int64_t>(width + 2));
      for (std::size_t k = 0; k < parts.size(); ++k) {
        if (k > 0)
          out += k % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : std::string(", ");
        out += parts[k];
      }
    } else {
      const std::string sep =
          "," + std::string(shape.size() - dim - 1, '\n') + std::string(indent + 1, ' ');
      for (std::size_t k = 0; k < parts.size(); ++k) out += (k > 0 ? sep : "") + parts[k];
    }
    return out + ']';
  }
};

std::string camel(std::string_view op) {
  std::string s;
  bool up = true;
  for (char c : op) {
    if (c == '_') {
      up = true;
      continue;
    }
    s += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return s;
}

bool default_dtype(Dtype d) { return d == kFloat32 || d == kInt64 || dtype_name(d) == "bool"; }

}  // namespace

void set_printoptions(const PrintOptions& o) {
  TG_CHECK(o.precision >= 0 && o.precision <= 30,
           "set_printoptions: precision must be in [0, 30], got ", o.precision);
  TG_CHECK(o.threshold >= 0, "set_printoptions: threshold must be >= 0, got ", o.threshold);
  TG_CHECK(o.edgeitems >= 0, "set_printoptions: edgeitems must be >= 0, got ", o.edgeitems);
  TG_CHECK(o.linewidth >= 1, "set_printoptions: linewidth must be >= 1, got ", o.linewidth);
  std::lock_guard lock(options_mutex());
  options_storage() = o;
}

PrintOptions get_printoptions() {
  std::lock_guard lock(options_mutex());
  return options_storage();
}

// PyTorch's node names where tapegrad records an op PyTorch has: CamelCase + "Backward0", with
// the exceptions below (PyTorch's second overloads, and ops tapegrad records under its own name).
// Where tapegrad records two PyTorch overloads under one name the first wins: sum(dims) is
// SumBackward0 (PyTorch: SumBackward1), and max()/min() over everything, recorded as amax/amin,
// are AmaxBackward0/AminBackward0 (PyTorch: MaxBackward1/MinBackward1).
std::string Tensor::grad_fn_name() const {
  if (!defined() || !grad_fn()) return "";
  std::string_view op = grad_fn()->name();
  static constexpr std::pair<std::string_view, std::string_view> kRenamed[] = {
      {"add_scalar", "AddBackward0"},    {"mul_scalar", "MulBackward0"},
      {"div_scalar", "DivBackward0"},    {"rsub_scalar", "RsubBackward1"},
      {"pow_tensor", "PowBackward1"},    {"square", "PowBackward0"},
      {"clamp", "ClampBackward1"},       {"max", "MaxBackward0"},
      {"min", "MinBackward0"},           {"norm", "NormBackward1"},
      {"norm_inf", "NormBackward1"},     {"log1p", "Log1PBackward0"},
      {"pad", "ConstantPadNdBackward0"}, {"to_dtype", "ToCopyBackward0"},
      {"contiguous", "CloneBackward0"},  {"relu6", "HardtanhBackward0"},
      {"CopySlices", "CopySlices"},      {"as_strided", "AsStridedBackward0"},
  };
  for (const auto& [from, to] : kRenamed)
    if (op == from) return std::string(to);
  if (!op.empty() && op.back() == '_') op.remove_suffix(1);  // in-place: add_ is AddBackward0
  return camel(op) + "Backward0";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const PrintOptions o = get_printoptions();
  const Shape& shape = t.shape();
  const std::string prefix = "tensor(";
  const auto indent = static_cast<std::int64_t>(prefix.size());
  std::vector<std::string> suffixes;
  std::string body;
  if (t.numel() == 0) {
    body = "[]";
    if (t.dim() != 1) suffixes.push_back("size=" + shape_str(shape));
    if (t.dtype() != kFloat32) suffixes.push_back("dtype=" + std::string(dtype_name(t.dtype())));
  } else {
    if (!default_dtype(t.dtype()))
      suffixes.push_back("dtype=" + std::string(dtype_name(t.dtype())));
    const bool summarize = t.numel() > o.threshold;
    std::vector<std::vector<std::int64_t>> kept(shape.size());
    for (std::size_t d = 0; d < shape.size(); ++d) {
      const std::int64_t n = shape[d];
      const bool cut = summarize && n > 2 * o.edgeitems;
      for (std::int64_t i = 0; i < n; ++i) {
        if (cut && i == o.edgeitems) i = n - o.edgeitems;
        if (i < n) kept[d].push_back(i);
      }
    }
    Printed printed{t, kept, {}, {}};
    dispatch(t.dtype(), [&]<typename T>() {
      printed.collect(static_cast<const T*>(t.impl()->storage->data()), 0, t.offset());
    });
    std::vector<std::string> cells;
    std::size_t width = 1;
    if (t.is_floating_point()) {
      const FloatFormatter f(printed.floats, o);
      for (double v : printed.floats) cells.push_back(f(v));
      width = f.width;
    } else {
      for (const auto& s : printed.exact) width = std::max(width, s.size());
      for (auto& s : printed.exact) cells.push_back(std::string(width - s.size(), ' ') + s);
    }
    body = Printer{shape, kept, cells, width, o, summarize}.print(0, indent);
  }
  if (t.grad_fn())
    suffixes.push_back("grad_fn=<" + t.grad_fn_name() + ">");
  else if (t.requires_grad())
    suffixes.push_back("requires_grad=True");

  // _add_suffixes: a suffix that would pass linewidth starts a new line.
  std::string out = prefix + body;
  std::int64_t last_line = static_cast<std::int64_t>(out.size() - out.rfind('\n') + 1);
  if (out.find('\n') == std::string::npos) last_line = static_cast<std::int64_t>(out.size()) + 2;
  for (const auto& s : suffixes) {
    const auto len = static_cast<std::int64_t>(s.size());
    if (last_line + len + 2 > o.linewidth) {
      out += ",\n" + std::string(indent, ' ') + s;
      last_line = indent + len;
    } else {
      out += ", " + s;
      last_line += len + 2;
    }
  }
  return os << out << ')';
}

}  // namespace tg
