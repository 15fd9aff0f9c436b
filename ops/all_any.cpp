// all / any: counts of zero / non-zero elements compared with 0, so the result has the dtype of
// a comparison and follows the reduction's dim checks and empty-tensor rules.
#include "tapegrad/ops/comparison.h"
#include "tapegrad/ops/kernels/reduce.h"
#include "tapegrad/ops/reduction.h"

namespace tg {

Tensor all(const Tensor& x) { return eq(sum(eq(x, 0.0)), 0.0); }
Tensor all(const Tensor& x, std::int64_t dim, bool keepdim) {
  kernels::reduce_dims("all", x, Shape{dim});  // names this op in a bad-dim error
  return eq(sum(eq(x, 0.0), Shape{dim}, keepdim), 0.0);
}
Tensor any(const Tensor& x) { return ne(sum(ne(x, 0.0)), 0.0); }
Tensor any(const Tensor& x, std::int64_t dim, bool keepdim) {
  kernels::reduce_dims("any", x, Shape{dim});
  return ne(sum(ne(x, 0.0), Shape{dim}, keepdim), 0.0);
}

}  // namespace tg
