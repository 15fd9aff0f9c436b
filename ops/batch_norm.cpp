// batch_norm for [N, C], [N, C, L] and [N, C, H, W] (the dims after C are one flat L). The forward
// is a fused kernel (statistics in double, one task per group of channels). Backward in training
// mode has two paths that compute the same gradient:
//   - plain backward (grad mode off while it runs): a fused kernel from the saved batch
//     statistics, two passes per channel;
//   - create_graph (grad mode on): the textbook formula written in differentiable ops from the
//     saved input, so batch_norm differentiates twice. gradgradcheck covers this path.
// Eval mode is an affine map of x with constant per-channel scale; its backward is always
// written in differentiable ops.
#include <cmath>
#include <functional>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

namespace {

struct Layout {
  std::int64_t N = 0, C = 0, L = 1;
  std::int64_t count() const { return N * L; }  // values per channel
  std::int64_t at(std::int64_t n, std::int64_t c, std::int64_t l) const {
    return (n * C + c) * L + l;
  }
};

// Calls f(c0, c1) over blocks of channels, split over threads. For [N, C] input (L == 1) each
// block walks the rows and, inside a row, its channels: contiguous memory the compiler
// vectorizes. The order in which a channel's values are summed never depends on the blocks.
// A block holds at least kValuesPerBlock values: each pass is a few cycles per value on data
// that sits in the cache of the core that made it, and a second core has to fetch its half
// across. [128, 512] took 22 us forward on one thread and 43-61 us on two (bench_reduction).
constexpr std::int64_t kValuesPerBlock = std::int64_t{1} << 18;
void for_channel_blocks(const Layout& s, const std::function<void(std::int64_t, std::int64_t)>& f) {
  const std::int64_t per_channel = std::max<std::int64_t>(s.count(), 1);
  std::int64_t block = (kValuesPerBlock + per_channel - 1) / per_channel;
  block = (block + 15) / 16 * 16;  // whole vectors of channels
  detail::parallel_for(s.C, block, f);
}

// Sums over one contiguous run of a channel (the L > 1 layouts) in eight double lanes, so the
// loop vectorizes; the order of additions is fixed, whatever the threads.
constexpr int kLanes = 8;
template <typename T>
double lane_sum(const T* __restrict x, std::int64_t n) {
  double acc[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += static_cast<double>(x[i + j]);
  double total = 0.0;
  for (; i < n; ++i) total += static_cast<double>(x[i]);
  for (int j = 0; j < kLanes; ++j) total += acc[j];
  return total;
}
// sum (x - m)^2, or with g given sum g * (x - m).
template <typename T>
double lane_dot_centered(const T* __restrict a, const T* __restrict x, double m, std::int64_t n) {
  double acc[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j)
      acc[j] += static_cast<double>(a[i + j]) * (static_cast<double>(x[i + j]) - m);
  double total = 0.0;
  for (; i < n; ++i) total += static_cast<double>(a[i]) * (static_cast<double>(x[i]) - m);
  for (int j = 0; j < kLanes; ++j) total += acc[j];
  return total;
}

// Per-channel mean and biased variance, two passes in double.
template <typename T>
void channel_stats(const T* x, const Layout& s, std::vector<double>& mean,
                   std::vector<double>& var) {
  const double inv_count = 1.0 / static_cast<double>(s.count());
  for_channel_blocks(s, [&](std::int64_t c0, std::int64_t c1) {
    double* m = mean.data();
    double* v = var.data();
    if (s.L == 1) {
      for (std::int64_t c = c0; c < c1; ++c) m[c] = v[c] = 0.0;
      for (std::int64_t n = 0; n < s.N; ++n) {
        const T* row = x + n * s.C;
        for (std::int64_t c = c0; c < c1; ++c) m[c] += row[c];
      }
      for (std::int64_t c = c0; c < c1; ++c) m[c] *= inv_count;
      for (std::int64_t n = 0; n < s.N; ++n) {
        const T* row = x + n * s.C;
        for (std::int64_t c = c0; c < c1; ++c) {
          const double d = row[c] - m[c];
          v[c] += d * d;
        }
      }
      for (std::int64_t c = c0; c < c1; ++c) v[c] *= inv_count;
      return;
    }
    for (std::int64_t c = c0; c < c1; ++c) {
      double total = 0.0;
      for (std::int64_t n = 0; n < s.N; ++n) total += lane_sum(x + s.at(n, c, 0), s.L);
      m[c] = total * inv_count;
      double sq = 0.0;
      for (std::int64_t n = 0; n < s.N; ++n) {
        const T* row = x + s.at(n, c, 0);
        sq += lane_dot_centered(row, row, m[c], s.L);
      }
      v[c] = sq * inv_count;
    }
  });
}

// y = (x - mean) * (invstd * w) + b per channel, in T.
template <typename T>
void normalize(const T* x, const Layout& s, const double* mean, const double* invstd, const T* w,
               const T* b, T* y) {
  std::vector<T> mu(s.C), scale(s.C), shift(s.C);
  for (std::int64_t c = 0; c < s.C; ++c) {
    mu[c] = static_cast<T>(mean[c]);
    scale[c] = static_cast<T>(invstd[c] * (w ? static_cast<double>(w[c]) : 1.0));
    shift[c] = b ? b[c] : T(0);
  }
  for_channel_blocks(s, [&](std::int64_t c0, std::int64_t c1) {
    const T* mup = mu.data();
    const T* sc = scale.data();
    const T* sh = shift.data();
    if (s.L == 1) {
      for (std::int64_t n = 0; n < s.N; ++n) {
        const T* xr = x + n * s.C;
        T* yr = y + n * s.C;
        for (std::int64_t c = c0; c < c1; ++c) yr[c] = (xr[c] - mup[c]) * sc[c] + sh[c];
      }
      return;
    }
    for (std::int64_t n = 0; n < s.N; ++n)
      for (std::int64_t c = c0; c < c1; ++c)
        for (std::int64_t l = 0; l < s.L; ++l) {
          const auto i = s.at(n, c, l);
          y[i] = (x[i] - mup[c]) * sc[c] + sh[c];
        }
  });
}

// The training-mode gradient from saved statistics:
//   gx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)),  gw = sum(g * xhat),  gb = sum(g).
template <typename T>
void fused_backward(const T* x, const T* g, const Layout& s, const double* mean,
                    const double* invstd, const T* w, T* gx, T* gw, T* gb) {
  const double inv_n = 1.0 / static_cast<double>(s.count());
  std::vector<double> sums_g(s.C, 0.0), sums_gx(s.C, 0.0);
  for_channel_blocks(s, [&](std::int64_t c0, std::int64_t c1) {
    double* sg = sums_g.data();
    double* sgx = sums_gx.data();
    // Sums of g and g * (x - mean) per channel (invstd is applied once, after).
    if (s.L == 1) {
      for (std::int64_t n = 0; n < s.N; ++n) {
        const T* gr = g + n * s.C;
        const T* xr = x + n * s.C;
        for (std::int64_t c = c0; c < c1; ++c) {
          sg[c] += gr[c];
          sgx[c] += gr[c] * (xr[c] - mean[c]);
        }
      }
    } else {
      for (std::int64_t n = 0; n < s.N; ++n)
        for (std::int64_t c = c0; c < c1; ++c) {
          const auto i = s.at(n, c, 0);
          sg[c] += lane_sum(g + i, s.L);
          sgx[c] += lane_dot_centered(g + i, x + i, mean[c], s.L);
        }
    }
    for (std::int64_t c = c0; c < c1; ++c) {
      sgx[c] *= invstd[c];
      gw[c] = static_cast<T>(sgx[c]);
      gb[c] = static_cast<T>(sg[c]);
    }
    // gx = k * (g - a - (x - mean) * bcoef) with per-channel constants in T.
    std::vector<T> k(static_cast<std::size_t>(c1 - c0)), a(k.size()), bcoef(k.size()), mu(k.size());
    for (std::int64_t c = c0; c < c1; ++c) {
      const auto j = static_cast<std::size_t>(c - c0);
      k[j] = static_cast<T>((w ? static_cast<double>(w[c]) : 1.0) * invstd[c]);
      a[j] = static_cast<T>(sg[c] * inv_n);
      bcoef[j] = static_cast<T>(invstd[c] * sgx[c] * inv_n);
      mu[j] = static_cast<T>(mean[c]);
    }
    if (s.L == 1) {
      for (std::int64_t n = 0; n < s.N; ++n) {
        const T* gr = g + n * s.C + c0;
        const T* xr = x + n * s.C + c0;
        T* out = gx + n * s.C + c0;
        for (std::int64_t j = 0; j < c1 - c0; ++j)
          out[j] = k[j] * (gr[j] - a[j] - (xr[j] - mu[j]) * bcoef[j]);
      }
      return;
    }
    for (std::int64_t n = 0; n < s.N; ++n)
      for (std::int64_t c = c0; c < c1; ++c) {
        const auto j = static_cast<std::size_t>(c - c0);
        for (std::int64_t l = 0; l < s.L; ++l) {
          const auto i = s.at(n, c, l);
          gx[i] = k[j] * (g[i] - a[j] - (x[i] - mu[j]) * bcoef[j]);
        }
      }
  });
}

// The dims a channel's statistics run over: all but dim 1.
Shape reduce_dims(const Tensor& x) {
  Shape dims{0};
  for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

void check_param(const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  TG_CHECK(t.dim() == 1 && t.size(0) == x.size(1), "batch_norm: ", what, " must have shape [",
           x.size(1), "], got ", shape_str(t.shape()));
  TG_CHECK(t.dtype() == x.dtype(), "batch_norm: ", what, " dtype ", t.dtype(),
           " differs from input dtype ", x.dtype());
}

Tensor training_forward(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                        const Tensor& weight, const Tensor& bias, double momentum, double eps,
                        const Layout& s) {
  TG_CHECK(s.count() > 1, "batch_norm: expected more than 1 value per channel when training, ",
           "got input of shape ", shape_str(x.shape()));
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  std::vector<double> batch_mean(s.C), batch_var(s.C), batch_invstd(s.C);
  Tensor y = empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    channel_stats<T>(xc.data_ptr<T>(), s, batch_mean, batch_var);
    for (std::int64_t c = 0; c < s.C; ++c) batch_invstd[c] = 1.0 / std::sqrt(batch_var[c] + eps);
    normalize<T>(xc.data_ptr<T>(), s, batch_mean.data(), batch_invstd.data(), ptr_or_null<T>(wc),
                 ptr_or_null<T>(bc), y.data_ptr<T>());
  });
  {
    // running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    NoGradGuard guard;
    const double unbias = static_cast<double>(s.count()) / static_cast<double>(s.count() - 1);
    if (running_mean.defined()) {
      Tensor r = running_mean;
      r.mul_(1.0 - momentum).add_(from_vector(batch_mean).to(r.dtype()), momentum);
    }
    if (running_var.defined()) {
      std::vector<double> unbiased(batch_var);
      for (auto& v : unbiased) v *= unbias;
      Tensor r = running_var;
      r.mul_(1.0 - momentum).add_(from_vector(unbiased).to(r.dtype()), momentum);
    }
  }
  const Tensor mean_t = from_vector(batch_mean), invstd_t = from_vector(batch_invstd);
  const Shape dims = reduce_dims(x);
  Shape bshape(x.dim(), 1);
  bshape[1] = s.C;
  return record(
      "batch_norm", {x, weight, bias}, y, {x, weight, mean_t, invstd_t},
      [s, eps, dims, bshape](const Tensor& g, const Saved& sv) {
        const Tensor x = sv[0], w = sv[1];
        if (!GradMode::is_enabled()) {
          const Tensor xc = x.contiguous(), gc = g.contiguous();
          Tensor gx = empty(x.shape(), x.dtype());
          Tensor gw = empty({s.C}, x.dtype()), gb = empty({s.C}, x.dtype());
          const Tensor wc = w.defined() ? w.contiguous() : Tensor();
          dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
            fused_backward<T>(xc.data_ptr<T>(), gc.data_ptr<T>(), s, sv[2].data_ptr<double>(),
                              sv[3].data_ptr<double>(), ptr_or_null<T>(wc), gx.data_ptr<T>(),
                              gw.data_ptr<T>(), gb.data_ptr<T>());
          });
          return grads{gx, gw, gb};
        }
        // create_graph: the same formula from x in differentiable ops.
        const Tensor mu = mean(x, dims, true);
        const Tensor xm = x - mu;
        const Tensor invstd = pow(mean(xm * xm, dims, true) + eps, -0.5);
        const Tensor xhat = xm * invstd;
        const Tensor gxhat = w.defined() ? g * w.reshape(bshape) : g;
        Tensor gx, gw, gb;
        if (sv.needs_grad(0))
          gx = invstd * (gxhat - mean(gxhat, dims, true) - xhat * mean(gxhat * xhat, dims, true));
        if (sv.needs_grad(1)) gw = sum(g * xhat, dims);
        if (sv.needs_grad(2)) gb = sum(g, dims);
        return grads{gx, gw, gb};
      });
}

Tensor eval_forward(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                    const Tensor& weight, const Tensor& bias, double eps, const Layout& s) {
  TG_CHECK(running_mean.defined() && running_var.defined(),
           "batch_norm: running_mean and running_var must be defined in eval mode");
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  std::vector<double> rmean = running_mean.to_vector<double>();
  std::vector<double> rinvstd = running_var.to_vector<double>();
  for (auto& v : rinvstd) {
    TG_CHECK(v + eps > 0.0, "batch_norm: running_var + eps must be positive, got ", v + eps);
    v = 1.0 / std::sqrt(v + eps);
  }
  Tensor y = empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    normalize<T>(xc.data_ptr<T>(), s, rmean.data(), rinvstd.data(), ptr_or_null<T>(wc),
                 ptr_or_null<T>(bc), y.data_ptr<T>());
  });
  Shape bshape(x.dim(), 1);
  bshape[1] = s.C;
  // Copies of the statistics: later training steps update the running buffers in place.
  const Tensor mean_b = from_vector(rmean).to(x.dtype()).reshape(bshape);
  const Tensor invstd_b = from_vector(rinvstd).to(x.dtype()).reshape(bshape);
  const Shape dims = reduce_dims(x);
  return record("batch_norm_eval", {x, weight, bias}, y, {x, weight, mean_b, invstd_b},
                [dims, bshape](const Tensor& g, const Saved& sv) {
                  const Tensor x = sv[0], w = sv[1], mean_b = sv[2], invstd_b = sv[3];
                  Tensor gx, gw, gb;
                  if (sv.needs_grad(0))
                    gx = g * (w.defined() ? invstd_b * w.reshape(bshape) : invstd_b);
                  if (sv.needs_grad(1)) gw = sum(g * ((x - mean_b) * invstd_b), dims);
                  if (sv.needs_grad(2)) gb = sum(g, dims);
                  return grads{gx, gw, gb};
                });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  TG_CHECK(x.defined(), "batch_norm: input is undefined");
  TG_CHECK(x.dim() >= 2 && x.dim() <= 5, "batch_norm: expected input of shape [N, C], ",
           "[N, C, L], [N, C, H, W] or [N, C, D, H, W], got ", shape_str(x.shape()));
  TG_CHECK(x.is_floating_point(), "batch_norm: expected a floating-point input, got ", x.dtype());
  TG_CHECK(eps >= 0.0, "batch_norm: eps must be non-negative, got ", eps);
  check_param("running_mean", running_mean, x);
  check_param("running_var", running_var, x);
  check_param("weight", weight, x);
  check_param("bias", bias, x);
  std::int64_t L = 1;
  for (std::int64_t d = 2; d < x.dim(); ++d) L *= x.size(d);
  const Layout s{x.size(0), x.size(1), L};
  return training ? training_forward(x, running_mean, running_var, weight, bias, momentum, eps, s)
                  : eval_forward(x, running_mean, running_var, weight, bias, eps, s);
}

}  // namespace tg::nn::functional
