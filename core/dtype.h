#pragma once
// Element types. float32 is the default; float64 serves gradient checks; int64 holds labels and
// indices; uint8 holds raw images; bool (1 byte, always 0 or 1) holds the results of comparisons
// and logical ops and serves as a mask.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <type_traits>

#include "tapegrad/core/error.h"

namespace tg {

enum class Dtype : std::uint8_t { Float32, Float64, Int64, UInt8, Bool };

inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
inline constexpr Dtype kInt64 = Dtype::Int64;
inline constexpr Dtype kUInt8 = Dtype::UInt8;
inline constexpr Dtype kBool = Dtype::Bool;

std::size_t element_size(Dtype d);
std::string_view dtype_name(Dtype d);
std::ostream& operator<<(std::ostream& os, Dtype d);
inline bool is_floating(Dtype d) { return d == Dtype::Float32 || d == Dtype::Float64; }

// ---- type promotion (PyTorch's rules; the one place every binary op family asks) ----
// The dtype two tensors' values are combined in: bool < uint8 < int64 < float32 < float64, the
// higher one wins (int64 + float32 -> float32, bool + int64 -> int64, float32 + float64 ->
// float64). Tensor-level rules (0-dim operands, C++ numbers) are in result_type (tensor.h).
Dtype promote_types(Dtype a, Dtype b);
// 0 bool, 1 integer (uint8, int64), 2 floating: PyTorch's categories, which decide whether a
// 0-dim operand may promote the other one (see result_type).
int dtype_category(Dtype d);
// Whether a value of dtype `from` may be written into a tensor of dtype `to` by an in-place op
// (PyTorch's can_cast): not floating into integer or bool, not integer into bool.
bool can_cast(Dtype from, Dtype to);

template <typename T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return Dtype::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return Dtype::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return Dtype::Int64;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return Dtype::UInt8;
  else if constexpr (std::is_same_v<T, bool>)
    return Dtype::Bool;
  else
    static_assert(sizeof(T) == 0, "tapegrad: unsupported element type");
}

// Calls f.template operator()<T>() with the C++ type of d (bool for kBool); e.g.
//   dispatch(x.dtype(), [&]<typename T>() { ... });
// Kernels whose arithmetic has no bool meaning are refused for bool at the op (see
// check_not_bool), before they dispatch.
template <typename F>
decltype(auto) dispatch(Dtype d, F&& f) {
  switch (d) {
    case Dtype::Float32:
      return f.template operator()<float>();
    case Dtype::Float64:
      return f.template operator()<double>();
    case Dtype::Int64:
      return f.template operator()<std::int64_t>();
    case Dtype::UInt8:
      return f.template operator()<std::uint8_t>();
    case Dtype::Bool:
      return f.template operator()<bool>();
  }
  throw Error("dispatch: unknown dtype");
}

// Same, for ops defined only on floating types; `op` names the caller in the error.
template <typename F>
decltype(auto) dispatch_floating(Dtype d, std::string_view op, F&& f) {
  switch (d) {
    case Dtype::Float32:
      return f.template operator()<float>();
    case Dtype::Float64:
      return f.template operator()<double>();
    default:
      break;
  }
  throw Error(detail::concat(op, ": expected a floating-point tensor (float32 or float64), got ",
                             dtype_name(d)));
}

// A tg::Error for an op PyTorch does not define on bool tensors (neg, sub, abs, ...), with
// PyTorch's hint `hint` when it gives one.
void check_not_bool(Dtype d, std::string_view op, std::string_view hint = {});

}  // namespace tg
