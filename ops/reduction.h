#pragma once
// Reductions over all dims or a list of dims (negative dims count from the end).
#include "tapegrad/core/tensor.h"

namespace tg {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
// Sums x over its broadcast dims so the result has `shape` (the adjoint of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace tg
