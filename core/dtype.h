#pragma once
// Element types. float32 is the default; float64 serves gradient checks; int64 holds labels and
// indices; uint8 holds raw images and the results of comparisons.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <type_traits>

#include "tapegrad/core/error.h"

namespace tg {

enum class Dtype : std::uint8_t { Float32, Float64, Int64, UInt8 };

inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
inline constexpr Dtype kInt64 = Dtype::Int64;
inline constexpr Dtype kUInt8 = Dtype::UInt8;

std::size_t element_size(Dtype d);
std::string_view dtype_name(Dtype d);
std::ostream& operator<<(std::ostream& os, Dtype d);
inline bool is_floating(Dtype d) { return d == Dtype::Float32 || d == Dtype::Float64; }
// The dtype both operands of a binary op are computed in: uint8 < int64 < float32 < float64.
Dtype promote_types(Dtype a, Dtype b);

template <typename T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return Dtype::Float32;
  else if constexpr (std::is_same_v<T, double>) return Dtype::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return Dtype::Int64;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return Dtype::UInt8;
  else static_assert(sizeof(T) == 0, "tapegrad: unsupported element type");
}

// Calls f.template operator()<T>() with the C++ type of d; e.g.
//   dispatch(x.dtype(), [&]<typename T>() { ... });
template <typename F>
decltype(auto) dispatch(Dtype d, F&& f) {
  switch (d) {
    case Dtype::Float32: return f.template operator()<float>();
    case Dtype::Float64: return f.template operator()<double>();
    case Dtype::Int64: return f.template operator()<std::int64_t>();
    case Dtype::UInt8: return f.template operator()<std::uint8_t>();
  }
  throw Error("dispatch: unknown dtype");
}

// Same, for ops defined only on floating types; `op` names the caller in the error.
template <typename F>
decltype(auto) dispatch_floating(Dtype d, std::string_view op, F&& f) {
  switch (d) {
    case Dtype::Float32: return f.template operator()<float>();
    case Dtype::Float64: return f.template operator()<double>();
    default: break;
  }
  throw Error(detail::concat(op, ": expected a floating-point tensor (float32 or float64), got ",
                             dtype_name(d)));
}

}  // namespace tg
