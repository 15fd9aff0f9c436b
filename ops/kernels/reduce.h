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

// Product over dims (accumulated in double / int64); integers multiply to int64.
Tensor prod(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim);
// Max / min over dims; NaN propagates. Refuses an empty reduction with a tg::Error naming `op`.
Tensor extreme(std::string_view op, const Tensor& x, const std::vector<std::int64_t>& dims,
               bool keepdim, bool is_max);
// Max / min along dims with the row-major position of the first extreme in the reduced block
// (along one dim: its index there). Refuses an empty reduction.
struct ExtremeResult {
  Tensor values, indices;  // indices: int64
};
ExtremeResult extreme_with_index(std::string_view op, const Tensor& x,
                                 const std::vector<std::int64_t>& dims, bool keepdim, bool is_max);
// Variance sum((x - mean)^2) / (N - correction), in one stable pass (floating x only).
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, double correction, bool keepdim);
// log(sum(exp(x))) over dims, shifted by the max so it never overflows; empty gives -inf.
Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim);
// Running sum along dim (from the end when reverse); integers sum to int64.
Tensor cumsum(const Tensor& x, std::int64_t dim, bool reverse);
// True when some element of x equals zero / is non-zero.
bool any_zero(const Tensor& x);
bool any_true(const Tensor& x);

}  // namespace tg::kernels
