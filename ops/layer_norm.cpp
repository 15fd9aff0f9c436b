// layer_norm over the trailing dims, and rms_norm. layer_norm's forward is a fused kernel
// (statistics in double, rows split over threads). Its backward has two paths that compute the
// same gradient, as batch_norm's does:
//   - plain backward (grad mode off while it runs): a fused kernel from the saved row statistics;
//   - create_graph (grad mode on): the formula written in differentiable ops from the saved
//     input, so layer_norm differentiates twice. gradgradcheck covers this path.
// rms_norm is composed from differentiable ops (no model here needs it fast).
#include <cmath>
#include <limits>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/sequence.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

namespace {

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// Rows are split so that each task covers about kElementwiseGrain values.
std::int64_t row_grain(std::int64_t M) {
  return std::max<std::int64_t>(1, detail::kElementwiseGrain / std::max<std::int64_t>(M, 1));
}

template <typename T>
void forward_kernel(const T* x, const T* w, const T* b, std::int64_t R, std::int64_t M, double eps,
                    T* y, double* mean, double* rstd) {
  detail::parallel_for(R, row_grain(M), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * M;
      double s = 0.0;
      for (std::int64_t j = 0; j < M; ++j) s += xr[j];
      const double mu = M > 0 ? s / static_cast<double>(M) : 0.0;
      double sq = 0.0;
      for (std::int64_t j = 0; j < M; ++j) {
        const double d = xr[j] - mu;
        sq += d * d;
      }
      const double rs = 1.0 / std::sqrt((M > 0 ? sq / static_cast<double>(M) : 0.0) + eps);
      mean[r] = mu;
      rstd[r] = rs;
      const T m = static_cast<T>(mu), k = static_cast<T>(rs);
      T* yr = y + r * M;
      for (std::int64_t j = 0; j < M; ++j) {
        T v = (xr[j] - m) * k;
        if (w) v *= w[j];
        if (b) v += b[j];
        yr[j] = v;
      }
    }
  });
}

// gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)), gh = g * w;
// gw = sum over rows of g * xhat, gb = sum over rows of g (columns split over threads, rows
// summed in order: the same result on any thread count).
template <typename T>
void backward_kernel(const T* x, const T* g, const T* w, const double* mean, const double* rstd,
                     std::int64_t R, std::int64_t M, T* gx, T* gw, T* gb) {
  if (gx)
    detail::parallel_for(R, row_grain(M), [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * M;
        const T* gr = g + r * M;
        const T m = static_cast<T>(mean[r]), k = static_cast<T>(rstd[r]);
        double sa = 0.0, sb = 0.0;
        for (std::int64_t j = 0; j < M; ++j) {
          const T gh = w ? gr[j] * w[j] : gr[j];
          sa += gh;
          sb += gh * (xr[j] - m) * k;
        }
        const T a = static_cast<T>(sa / static_cast<double>(M));
        const T bcoef = static_cast<T>(sb / static_cast<double>(M));
        T* out = gx + r * M;
        for (std::int64_t j = 0; j < M; ++j) {
          const T gh = w ? gr[j] * w[j] : gr[j];
          out[j] = k * (gh - a - (xr[j] - m) * k * bcoef);
        }
      }
    });
  if (!gw && !gb) return;
  detail::parallel_for(M, 16, [&](std::int64_t c0, std::int64_t c1) {
    std::vector<double> sw(static_cast<std::size_t>(c1 - c0), 0.0), sb(sw.size(), 0.0);
    for (std::int64_t r = 0; r < R; ++r) {
      const T* xr = x + r * M;
      const T* gr = g + r * M;
      const double m = mean[r], k = rstd[r];
      for (std::int64_t c = c0; c < c1; ++c) {
        const auto j = static_cast<std::size_t>(c - c0);
        sw[j] += gr[c] * ((xr[c] - m) * k);
        sb[j] += gr[c];
      }
    }
    for (std::int64_t c = c0; c < c1; ++c) {
      const auto j = static_cast<std::size_t>(c - c0);
      if (gw) gw[c] = static_cast<T>(sw[j]);
      if (gb) gb[c] = static_cast<T>(sb[j]);
    }
  });
}

std::int64_t check_normalized(const char* op, const Tensor& x, const Shape& normalized,
                              const Tensor& weight, const Tensor& bias) {
  TG_CHECK(x.defined(), op, ": input is undefined");
  TG_CHECK(x.is_floating_point(), op, ": expected a floating-point input, got ", x.dtype());
  const auto k = static_cast<std::int64_t>(normalized.size());
  TG_CHECK(k >= 1, op, ": normalized_shape must have at least one dim");
  bool ok = x.dim() >= k;
  for (std::int64_t i = 0; ok && i < k; ++i) ok = x.size(x.dim() - k + i) == normalized[i];
  TG_CHECK(ok, op, ": input of shape ", shape_str(x.shape()),
           " does not end with normalized_shape ", shape_str(normalized));
  for (const auto* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    const char* what = p == &weight ? "weight" : "bias";
    TG_CHECK(p->shape() == normalized, op, ": ", what, " of shape ", shape_str(p->shape()),
             " does not match normalized_shape ", shape_str(normalized));
    TG_CHECK(p->dtype() == x.dtype(), op, ": ", what, " dtype ", p->dtype(),
             " differs from input dtype ", x.dtype());
  }
  return k;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const std::int64_t k = check_normalized("layer_norm", x, normalized_shape, weight, bias);
  TG_CHECK(eps >= 0.0, "layer_norm: eps must be non-negative, got ", eps);
  const std::int64_t M = numel_of(normalized_shape);
  const std::int64_t R = M > 0 ? x.numel() / M : 0;
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = empty(x.shape(), x.dtype());
  Tensor mean_t = empty({R}, kFloat64), rstd_t = empty({R}, kFloat64);
  dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    forward_kernel<T>(xc.data_ptr<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc), R, M, eps,
                      y.data_ptr<T>(), mean_t.data_ptr<double>(), rstd_t.data_ptr<double>());
  });
  Shape dims;  // the normalized dims
  for (std::int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
  return record("layer_norm", {x, weight, bias}, y, {x, weight, mean_t, rstd_t},
                [R, M, eps, dims, ns = normalized_shape](const Tensor& g, const Saved& sv) {
                  const Tensor x = sv[0], w = sv[1];
                  if (!GradMode::is_enabled()) {
                    const Tensor xc = x.contiguous(), gc = g.contiguous();
                    const Tensor wc = w.defined() ? w.contiguous() : Tensor();
                    Tensor gx, gw, gb;
                    if (sv.needs_grad(0)) gx = empty(x.shape(), x.dtype());
                    if (sv.needs_grad(1)) gw = empty(ns, x.dtype());
                    if (sv.needs_grad(2)) gb = empty(ns, x.dtype());
                    dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
                      backward_kernel<T>(xc.data_ptr<T>(), gc.data_ptr<T>(), ptr_or_null<T>(wc),
                                         sv[2].data_ptr<double>(), sv[3].data_ptr<double>(), R, M,
                                         gx.defined() ? gx.data_ptr<T>() : nullptr,
                                         gw.defined() ? gw.data_ptr<T>() : nullptr,
                                         gb.defined() ? gb.data_ptr<T>() : nullptr);
                    });
                    return grads{gx, gw, gb};
                  }
                  // create_graph: the same formula from x in differentiable ops.
                  const Tensor xm = x - mean(x, dims, true);
                  const Tensor rstd = pow(mean(xm * xm, dims, true) + eps, -0.5);
                  const Tensor xhat = xm * rstd;
                  const Tensor gh = w.defined() ? g * w : g;
                  Tensor gx, gw, gb;
                  if (sv.needs_grad(0))
                    gx = rstd * (gh - mean(gh, dims, true) - xhat * mean(gh * xhat, dims, true));
                  if (sv.needs_grad(1)) gw = sum_to(g * xhat, ns);
                  if (sv.needs_grad(2)) gb = sum_to(g, ns);
                  return grads{gx, gw, gb};
                });
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                std::optional<double> eps) {
  const std::int64_t k = check_normalized("rms_norm", x, normalized_shape, weight, Tensor());
  const double e = eps.value_or(x.dtype() == kFloat64 ? std::numeric_limits<double>::epsilon()
                                                      : std::numeric_limits<float>::epsilon());
  TG_CHECK(e >= 0.0, "rms_norm: eps must be non-negative, got ", e);
  Shape dims;
  for (std::int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
  const Tensor y = x * pow(mean(x * x, dims, true) + e, -0.5);
  return weight.defined() ? y * weight : y;
}

}  // namespace tg::nn::functional
