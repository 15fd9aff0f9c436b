// softmax and log_softmax along any dim. The forward is a fused, max-subtracted kernel; the
// backward is written in differentiable ops (from the saved output), so it differentiates again.
#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/rows.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

Tensor softmax(const Tensor& x, std::int64_t dim) {
  TG_CHECK(x.defined(), "softmax: input is undefined");
  TG_CHECK(x.is_floating_point(), "softmax: expected a floating-point tensor, got ", x.dtype());
  if (x.dim() == 0) {
    wrap_dim("softmax", dim, 1);
    return softmax(x.reshape({1}), 0).reshape({});
  }
  const auto d = wrap_dim("softmax", dim, x.dim());
  Tensor y = kernels::softmax(x, d, false);
  return record("softmax", {x}, y, {y}, [d](const Tensor& g, const Saved& s) {
    const Tensor y = s[0];
    return grads{y * (g - sum(g * y, {d}, true))};
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  TG_CHECK(x.defined(), "log_softmax: input is undefined");
  TG_CHECK(x.is_floating_point(), "log_softmax: expected a floating-point tensor, got ", x.dtype());
  if (x.dim() == 0) {
    wrap_dim("log_softmax", dim, 1);
    return log_softmax(x.reshape({1}), 0).reshape({});
  }
  const auto d = wrap_dim("log_softmax", dim, x.dim());
  Tensor y = kernels::softmax(x, d, true);
  return record("log_softmax", {x}, y, {y}, [d](const Tensor& g, const Saved& s) {
    return grads{g - exp(s[0]) * sum(g, {d}, true)};
  });
}

}  // namespace tg::nn::functional
