#pragma once
// Shape ops. All views share storage with their input (no copy) and are differentiable; the
// Tensor methods of the same names call these.
#include "tapegrad/core/tensor.h"

namespace tg {

Tensor reshape(const Tensor& x, const Shape& shape);  // a view when strides allow, else a copy
Tensor view(const Tensor& x, const Shape& shape);     // a view, or an error
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor t(const Tensor& x);                           // transpose of a tensor of at most 2 dims
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a dim
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step = 1);  // python-style clamping of start/end
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, Dtype dtype);  // differentiable between float dtypes

}  // namespace tg
