#pragma once
// Sorting and selection along one dim: sort, argsort, topk. PyTorch 1.13's conventions: NaN
// sorts as larger than every number (last ascending, first descending, picked first by topk's
// largest), and ties keep their index order (PyTorch's stable=true order; its unstable order is
// unspecified, so tapegrad is always stable). Values are differentiable: the gradient is
// scattered back to the selected indices (written with scatter_add, so it differentiates again).
// Indices are int64 and never require grad.
#include <cstdint>

#include "tapegrad/core/tensor.h"
#include "tapegrad/ops/reduction.h"  // ValuesIndices

namespace tg {

ValuesIndices sort(const Tensor& x, std::int64_t dim = -1, bool descending = false,
                   bool stable = true);
Tensor argsort(const Tensor& x, std::int64_t dim = -1, bool descending = false, bool stable = true);
// The k largest (or smallest) entries along dim, largest first (smallest first). `sorted` is
// accepted for PyTorch's signature; the result is always in sorted order (PyTorch leaves the
// order unspecified when sorted=false).
ValuesIndices topk(const Tensor& x, std::int64_t k, std::int64_t dim = -1, bool largest = true,
                   bool sorted = true);

}  // namespace tg
