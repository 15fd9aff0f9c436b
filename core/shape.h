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

std::int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"
std::ostream& operator<<(std::ostream& os, const Shape& shape);

// NumPy broadcasting of two shapes; throws tg::Error naming `op` and both shapes.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
std::int64_t wrap_dim(std::string_view op, std::int64_t dim, std::int64_t ndim);
// Checks every size is non-negative and the element count does not overflow.
void check_shape(std::string_view op, const Shape& shape);

}  // namespace tg
