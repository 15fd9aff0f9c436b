#include "tapegrad/core/dtype.h"

#include <ostream>

namespace tg {

std::size_t element_size(Dtype d) {
  switch (d) {
    case Dtype::Float32: return 4;
    case Dtype::Float64: return 8;
    case Dtype::Int64: return 8;
    case Dtype::UInt8: return 1;
  }
  return 0;
}

std::string_view dtype_name(Dtype d) {
  switch (d) {
    case Dtype::Float32: return "float32";
    case Dtype::Float64: return "float64";
    case Dtype::Int64: return "int64";
    case Dtype::UInt8: return "uint8";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, Dtype d) { return os << dtype_name(d); }

Dtype promote_types(Dtype a, Dtype b) {
  auto rank = [](Dtype d) {
    switch (d) {
      case Dtype::UInt8: return 0;
      case Dtype::Int64: return 1;
      case Dtype::Float32: return 2;
      case Dtype::Float64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace tg
