#include "tapegrad/core/dtype.h"

#include <ostream>

namespace tg {

std::size_t element_size(Dtype d) {
  switch (d) {
    case Dtype::Float32:
      return 4;
    case Dtype::Float64:
      return 8;
    case Dtype::Int64:
      return 8;
    case Dtype::UInt8:
      return 1;
    case Dtype::Bool:
      return 1;
  }
  return 0;
}

std::string_view dtype_name(Dtype d) {
  switch (d) {
    case Dtype::Float32:
      return "float32";
    case Dtype::Float64:
      return "float64";
    case Dtype::Int64:
      return "int64";
    case Dtype::UInt8:
      return "uint8";
    case Dtype::Bool:
      return "bool";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, Dtype d) { return os << dtype_name(d); }

namespace {
int rank(Dtype d) {
  switch (d) {
    case Dtype::Bool:
      return 0;
    case Dtype::UInt8:
      return 1;
    case Dtype::Int64:
      return 2;
    case Dtype::Float32:
      return 3;
    case Dtype::Float64:
      return 4;
  }
  return 0;
}
}  // namespace

Dtype promote_types(Dtype a, Dtype b) { return rank(a) >= rank(b) ? a : b; }

int dtype_category(Dtype d) {
  if (d == Dtype::Bool) return 0;
  return is_floating(d) ? 2 : 1;
}

bool can_cast(Dtype from, Dtype to) { return dtype_category(from) <= dtype_category(to); }

void check_not_bool(Dtype d, std::string_view op, std::string_view hint) {
  TG_CHECK(d != Dtype::Bool, op, ": not supported for bool tensors", hint.empty() ? "" : " (", hint,
           hint.empty() ? "" : ")");
}

}  // namespace tg
