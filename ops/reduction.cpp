// Reductions. Backward of a sum broadcasts the gradient back over the reduced dims.
#include "tapegrad/ops/reduction.h"

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/reduce.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {
// g has the reduced shape; give it back the reduced dims as size 1, then expand to `shape`.
Tensor expand_back(const Tensor& g, const Shape& shape, const std::vector<std::int64_t>& dims,
                   bool keepdim) {
  Tensor h = g;
  if (!keepdim)
    for (auto d : dims) h = unsqueeze(h, d);
  return expand(h, shape);
}
}  // namespace

Tensor sum(const Tensor& x, const Shape& dims_in, bool keepdim) {
  const auto dims = kernels::reduce_dims("sum", x, dims_in);
  Tensor y = kernels::sum(x, dims, keepdim);
  const Shape shape = x.shape();
  return record("sum", {x}, y, [=](const Tensor& g, const Saved&) {
    return grads{expand_back(g, shape, dims, keepdim)};
  });
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const Shape& dims_in, bool keepdim) {
  TG_CHECK(x.is_floating_point(), "mean: expected a floating-point tensor, got dtype ", x.dtype());
  const auto dims = kernels::reduce_dims("mean", x, dims_in);
  std::int64_t count = 1;
  for (auto d : dims) count *= x.shape()[d];
  return sum(x, dims_in, keepdim) / static_cast<double>(count);
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const auto lead = x.dim() - static_cast<std::int64_t>(shape.size());
  TG_CHECK(lead >= 0, "sum_to: cannot reduce shape ", shape_str(x.shape()), " to ",
           shape_str(shape));
  Shape dims;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const auto want = shape[d - lead];
    TG_CHECK(want == x.shape()[d] || want == 1, "sum_to: cannot reduce shape ",
             shape_str(x.shape()), " to ", shape_str(shape));
    if (want == 1 && x.shape()[d] != 1) dims.push_back(d);
  }
  Tensor r = dims.empty() ? x : sum(x, dims, true);
  return reshape(r, shape);
}

}  // namespace tg
