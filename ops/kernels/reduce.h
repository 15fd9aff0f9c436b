#pragma once
// Raw reduction kernel. The reduced dims are moved last; each output element then reduces one
// run of elements in a fixed order, so results never depend on the thread count.
#include <cstdint>
#include <string_view>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::kernels {

// Normalized, sorted, de-duplicated dims; an empty list means all dims.
std::vector<std::int64_t> reduce_dims(std::string_view op, const Tensor& x, const Shape& dims);
// The result shape of reducing `dims` (keepdim keeps them as size 1).
Shape reduced_shape(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim);

// Sum over dims (accumulating float in double per output run), result in x's dtype
// (integers sum to int64).
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim);

}  // namespace tg::kernels
