#include "tapegrad/nn/parallel/sync_batch_norm.h"

#include "tapegrad/nn/parallel/process_group.h"
#include "tapegrad/ops/custom_op.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"

namespace tg::nn::parallel {

namespace {

// Every dim but the channel dim 1.
Shape reduce_dims(const Tensor& x) {
  Shape dims{0};
  for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// [C] -> [1, C, 1, ...] to broadcast against x.
Tensor per_channel(const Tensor& v, const Tensor& x) {
  Shape shape(static_cast<std::size_t>(x.dim()), 1);
  shape[1] = v.numel();
  return v.reshape(shape);
}

// The normalization with global statistics; backward all-reduces the two sums the input
// gradient needs.
struct SyncBatchNormFunction : Function<SyncBatchNormFunction> {
  static constexpr const char* name = "sync_batch_norm";

  static Tensor forward(AutogradContext& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                        double momentum, double eps) {
    const Shape dims = reduce_dims(x);
    const std::int64_t C = x.size(1);
    const double local_n = static_cast<double>(x.numel() / C);
    // Sum and count first, then the squared deviations from the global mean (two passes keep
    // the variance accurate where sum-of-squares would cancel).
    Tensor sum_count = cat({x.sum(dims).to(kFloat64), full({1}, local_n, kFloat64)}, 0);
    distributed::all_reduce(sum_count);
    const double n = sum_count.at<double>({C});
    TG_CHECK(n > 1, "SyncBatchNorm: expected more than 1 value per channel over all ranks, got ",
             n);
    Tensor mean = (sum_count.narrow(0, 0, C) / n).to(x.dtype());
    Tensor centered = x - per_channel(mean, x);
    Tensor sq = (centered * centered).sum(dims).to(kFloat64);
    distributed::all_reduce(sq);
    Tensor var = (sq / n).to(x.dtype());
    Tensor invstd = (var + eps).pow(-0.5);
    Tensor xhat = centered * per_channel(invstd, x);
    if (running_mean.defined()) {
      Tensor rm = running_mean, rv = running_var;
      rm.mul_(1.0 - momentum).add_(mean * momentum);
      rv.mul_(1.0 - momentum).add_(var * (momentum * n / (n - 1)));  // unbiased, as PyTorch
    }
    ctx.save_for_backward({xhat, invstd, weight});
    ctx.data["n"] = n;
    Tensor y = xhat;
    if (weight.defined()) y = y * per_channel(weight, x) + per_channel(bias, x);
    return y;
  }

  static grads backward(AutogradContext& ctx, const grads& g) {
    const Tensor& dy = g[0];
    const Tensor xhat = ctx.saved()[0], invstd = ctx.saved()[1], weight = ctx.saved()[2];
    const double n = std::any_cast<double>(ctx.data["n"]);
    const Shape dims = reduce_dims(dy);
    const std::int64_t C = dy.size(1);
    Tensor sum_dy = dy.sum(dims);
    Tensor sum_dy_xhat = (dy * xhat).sum(dims);
    Tensor global = cat({sum_dy, sum_dy_xhat}, 0).to(kFloat64);
    distributed::all_reduce(global);
    Tensor mean_dy = (global.narrow(0, 0, C) / n).to(dy.dtype());
    Tensor mean_dy_xhat = (global.narrow(0, C, C) / n).to(dy.dtype());
    Tensor scale = weight.defined() ? invstd * weight : invstd;
    Tensor dx = (dy - per_channel(mean_dy, dy) - xhat * per_channel(mean_dy_xhat, dy)) *
                per_channel(scale, dy);
    // One gradient per tensor argument (the running statistics get none).
    if (!weight.defined()) return {dx, {}, {}, {}, {}};
    return {dx, sum_dy_xhat, sum_dy, {}, {}};  // this rank's share; DDP averages them
  }
};

}  // namespace

SyncBatchNorm::SyncBatchNorm(std::int64_t num_features, const BatchNormOptions& options)
    : BatchNorm1d(num_features, options) {}

Tensor SyncBatchNorm::forward(const Tensor& x) {
  TG_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == num_features, "SyncBatchNorm(", num_features,
           "): expected input of shape [N, ", num_features, ", ...], got ",
           x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  if (!is_training() && options.track_running_stats)  // running statistics: no communication
    return x.dim() <= 3 ? BatchNorm1d::forward(x)
                        : BatchNorm1d::forward(x.flatten(2)).reshape(x.shape());
  double factor = options.momentum.value_or(0.0);
  if (options.track_running_stats) {
    {
      NoGradGuard guard;
      num_batches_tracked.add_(1.0);
    }
    if (!options.momentum)
      factor = 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
  }
  return SyncBatchNormFunction::apply(x, weight, bias, running_mean, running_var, factor,
                                      options.eps);
}

}  // namespace tg::nn::parallel
