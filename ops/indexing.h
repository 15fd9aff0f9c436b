#pragma once
// Joining, splitting and indexing ops. Index tensors are int64; an index outside its dim throws
// tg::Error naming the op, the index and the size. Differentiable in their floating inputs
// (one_hot is not: its result is a constant).
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

// Joins tensors whose shapes match except along `dim`; the result has their promoted dtype
// (promote_types over all of them, as torch.cat), and each gets its gradient in its own dtype.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
// Joins same-shaped tensors along a new dim (dtypes promoted as in cat).
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
// Views of consecutive pieces of `split_size` along dim (the last one may be smaller).
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
// Views of pieces with the given sizes, which must add up to x.size(dim).
std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, std::int64_t dim = 0);
// At most `chunks` views of equal size ceil(n / chunks) along dim (the last may be smaller).
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);

// The entries x.select(dim, index[i]) stacked along dim; index is 1-D (or 0-dim).
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
// out[i][j][k] = x[i][index[i][j][k]][k] for dim == 1 (likewise for other dims). index has x's
// number of dims and, off `dim`, sizes no larger than x's.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// A copy of self with src[i][j][k] added into out[i][index[i][j][k]][k] (dim == 1). index is no
// larger than src in any dim, nor than self off `dim`.
Tensor scatter_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src);
// x with `value` where mask (bool, broadcastable) is true. A uint8 mask is also accepted (non-zero
// is true), as PyTorch 1.13 still does with a deprecation warning; other dtypes are refused.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// [..., num_classes] one-hot rows of int64 class indices (num_classes -1: max + 1). No gradient.
Tensor one_hot(const Tensor& index, std::int64_t num_classes = -1, Dtype dtype = kInt64);

// torch.Tensor.repeat: tiles x `repeats[d]` times along each dim; repeats may have more dims
// than x (new leading dims).
Tensor repeat(const Tensor& x, const Shape& repeats);
// torch.tile: like repeat, but reps shorter than x's dims are padded with leading 1s.
Tensor tile(const Tensor& x, const Shape& reps);
// Constant padding; `pad` lists (before, after) pairs starting from the last dim, like
// torch.nn.functional.pad. Negative amounts crop.
Tensor pad(const Tensor& x, const Shape& pad, double value = 0.0);

}  // namespace tg
