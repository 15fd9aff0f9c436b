#pragma once
// Shapes, strides and the broadcasting rules shared by every op.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core/small_vector.h"

namespace tg {

// Sizes or strides of a tensor. Up to 6 dims are stored inline (no heap allocation).
using Shape = SmallVector<std::int64_t, 6>;

// Element count and row-major strides. Shapes are validated by check_shape when a tensor is made,
// so these cannot overflow for a tensor's shape; on any other shape they throw rather than wrap.
std::int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"
std::ostream& operator<<(std::ostream& os, const Shape& shape);

// NumPy broadcasting of two shapes; throws tg::Error naming `op` and both shapes.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
std::int64_t wrap_dim(std::string_view op, std::int64_t dim, std::int64_t ndim);
// Checks every size is non-negative and the element count does not overflow int64 (counting a
// size 0 as 1, since contiguous strides are built from that product even for an empty tensor).
// With element_size, the byte count must fit too. Every op that makes a new shape calls it, so
// the error names the op the user called.
void check_shape(std::string_view op, const Shape& shape, std::int64_t element_size = 1);

// The one place int64 size, stride and offset arithmetic is checked: a + b and a * b, or a
// tg::Error "<op>: <what> overflows int64 (a op b)" instead of wrapping.
std::int64_t checked_add(std::string_view op, std::string_view what, std::int64_t a,
                         std::int64_t b);
std::int64_t checked_mul(std::string_view op, std::string_view what, std::int64_t a,
                         std::int64_t b);

}  // namespace tg
