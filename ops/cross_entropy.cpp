// Fused cross entropy (log-softmax + NLL) and nll_loss.
//
// Both are  loss_s = -sum_c Q[s, c] * log_softmax(z)[s, c]  for a constant target matrix Q:
//   class indices t:    Q[s, c] = m_s * ((1 - eps) * w[t_s] * [c == t_s] + eps / C * w[c])
//                       (m_s = 0 where t_s == ignore_index),
//   probabilities P:    Q[s, c] = w[c] * ((1 - eps) * P[s, c] + eps / C),
// so with S_s = sum_c Q[s, c] and p = softmax(z):
//   loss_s = S_s * logsumexp(z_s) - sum_c Q[s, c] * z[s, c],   dloss_s / dz[s, c] = S_s p - Q.
// The mean divides by sum_s m_s w[t_s] (class indices, as PyTorch does) or by the number of
// samples (probabilities). Class weights are constants; probability targets get a gradient.
// When no sample counts (every target ignored, or an empty batch) the mean is 0/0 = NaN but
// its gradient is 0, as in PyTorch; when samples count but their weights sum to 0 the gradient
// is NaN there too (PyTorch's 0 * inf).
#include <cmath>
#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/rows.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

namespace {

// Logits are read as a contiguous [N, C, inner]; sample s = n * inner + j is row s of Rows.
struct Targets {
  Shape shape;  // the logits' shape [N, C, d...]
  std::int64_t N = 0, C = 0, inner = 1;
  bool prob = false;  // probability targets (else class indices)
  double smoothing = 0.0;
  std::int64_t ignore_index = -100;
  kernels::Rows rows() const { return {N, C, inner}; }
  Shape sample_shape() const {  // the logits' shape without the class dim
    Shape s = shape;
    s.erase(s.begin() + 1);
    return s;
  }
};

struct Prepared {
  Targets cfg;
  Tensor target;              // contiguous: int64 indices, or probabilities in the logits' dtype
  Tensor weight;              // contiguous [C] in the logits' dtype, or undefined
  double total_weight = 0.0;  // the mean's divisor
  std::int64_t counted = 0;   // samples not ignored
  // What the mean's gradient is scaled by: 1 / total_weight, but 0 when no sample counts
  // (then every per-sample gradient is 0 and 0 * inf must not turn it into NaN).
  double mean_scale() const { return counted == 0 ? 0.0 : 1.0 / total_weight; }
};

Prepared prepare(const char* op, const Tensor& z, const Tensor& target, const Tensor& weight,
                 double smoothing, std::int64_t ignore_index, bool allow_prob) {
  TG_CHECK(z.defined() && target.defined(), op, ": input and target must be defined");
  TG_CHECK(z.is_floating_point(), op, ": expected floating-point input, got ", z.dtype());
  TG_CHECK(z.dim() >= 2, op, ": expected input of shape [N, C, d...] or [C], got ",
           shape_str(z.shape()));
  TG_CHECK(z.size(1) >= 1, op, ": input has no classes (shape ", shape_str(z.shape()), ")");
  TG_CHECK(smoothing >= 0.0 && smoothing <= 1.0, op, ": label_smoothing must be in [0, 1], got ",
           smoothing);
  Prepared p;
  Targets& cfg = p.cfg;
  cfg.shape = z.shape();
  cfg.N = z.size(0);
  cfg.C = z.size(1);
  for (std::int64_t d = 2; d < z.dim(); ++d) cfg.inner *= z.size(d);
  cfg.smoothing = smoothing;
  cfg.ignore_index = ignore_index;
  if (weight.defined()) {
    TG_CHECK(weight.dim() == 1 && weight.size(0) == cfg.C, op, ": weight must have shape [", cfg.C,
             "], got ", shape_str(weight.shape()));
    TG_CHECK(weight.is_floating_point(), op, ": weight must be floating-point, got ",
             weight.dtype());
    p.weight = weight.detach().to(z.dtype()).contiguous();
  }
  // A target that is neither int64 indices nor probabilities of the input's shape: say what
  // class indices need (the common mistake is float labels) and what came.
  const bool prob_shape = target.shape() == z.shape();
  TG_CHECK(target.dtype() == kInt64 || (allow_prob && target.is_floating_point() && prob_shape), op,
           ": class-index targets must be int64, got ", target.dtype(), " of shape ",
           shape_str(target.shape()),
           allow_prob ? detail::concat(" (probability targets must be floating-point with the "
                                       "input's shape ",
                                       shape_str(z.shape()), ")")
                      : std::string());
  if (target.is_floating_point()) {
    TG_CHECK(ignore_index < 0, op, ": ignore_index (", ignore_index,
             ") is not supported for probability targets");
    cfg.prob = true;
    p.target = target.detach().to(z.dtype()).contiguous();
    p.total_weight = static_cast<double>(cfg.N * cfg.inner);
    p.counted = cfg.N * cfg.inner;
    return p;
  }
  TG_CHECK(target.shape() == cfg.sample_shape(), op, ": class-index target must have shape ",
           shape_str(cfg.sample_shape()), " for input of shape ", shape_str(z.shape()), ", got ",
           shape_str(target.shape()));
  p.target = target.detach().contiguous();
  const std::int64_t* t = p.target.data_ptr<std::int64_t>();
  const auto wv = p.weight.defined() ? p.weight.to_vector<double>() : std::vector<double>();
  for (std::int64_t s = 0; s < p.target.numel(); ++s) {
    if (t[s] == ignore_index) continue;
    TG_CHECK(t[s] >= 0 && t[s] < cfg.C, op, ": target ", t[s], " is out of range for ", cfg.C,
             " classes (at flat target index ", s, ")");
    p.total_weight += wv.empty() ? 1.0 : wv[t[s]];
    ++p.counted;
  }
  return p;
}

// Q[s, c] = a * [c == t] + w[c] * (b + pw * P[s, c]), with (t, a, b, pw) fixed per sample.
template <typename T>
struct TargetView {
  const Targets& cfg;
  const std::int64_t* index = nullptr;
  const T* prob = nullptr;
  const T* weight = nullptr;

  TargetView(const Targets& c, const Prepared& p) : cfg(c) {
    if (cfg.prob)
      prob = p.target.data_ptr<T>();
    else
      index = p.target.data_ptr<std::int64_t>();
    if (p.weight.defined()) weight = p.weight.data_ptr<T>();
  }
  struct Sample {
    std::int64_t t;
    double a, b, pw;
  };
  double w(std::int64_t c) const { return weight ? static_cast<double>(weight[c]) : 1.0; }
  bool ignored(std::int64_t s) const { return !cfg.prob && index[s] == cfg.ignore_index; }
  // Class-index targets without smoothing: Q has one nonzero per sample.
  bool sparse() const { return !cfg.prob && cfg.smoothing == 0.0; }
  Sample sample(std::int64_t s) const {
    const double eps = cfg.smoothing, C = static_cast<double>(cfg.C);
    if (cfg.prob) return {-1, 0.0, eps / C, 1.0 - eps};
    const std::int64_t t = index[s];
    if (t == cfg.ignore_index) return {-1, 0.0, 0.0, 0.0};
    return {t, (1.0 - eps) * w(t), eps / C, 0.0};
  }
  // pr: the sample's row of P (stride inner), when prob.
  double q(const Sample& k, const T* pr, std::int64_t c) const {
    double v = k.b;
    if (prob) v += k.pw * static_cast<double>(pr[c * cfg.inner]);
    v *= w(c);
    return c == k.t ? v + k.a : v;
  }
};

// Row maximum in T (0 for an all -inf row, so that no -inf - -inf appears).
template <typename T>
T row_max(const T* zr, std::int64_t n, std::int64_t stride) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::int64_t c = 0; c < n; ++c) m = std::max(m, zr[c * stride]);
  return m == -std::numeric_limits<T>::infinity() ? T(0) : m;
}

// Per-sample losses and, for the backward, (max, log-sum-exp minus max) per sample in double.
// z - max is exact in T for the classes that matter, so float32 keeps its precision at +-1e4.
template <typename T>
void forward_kernel(const Tensor& z, const Prepared& p, const Tensor& loss, const Tensor& stats) {
  const TargetView<T> tv(p.cfg, p);
  const T* zp = z.data_ptr<T>();
  T* lp = loss.data_ptr<T>();
  double* st = stats.data_ptr<double>();
  const kernels::Rows rows = p.cfg.rows();
  kernels::for_each_row(rows, [&](std::int64_t r) {
    const std::int64_t base = rows.base(r), s = rows.inner;
    const T* zr = zp + base;
    const T m = row_max(zr, rows.n, s);
    double total = 0.0;
    for (std::int64_t c = 0; c < rows.n; ++c) total += std::exp(zr[c * s] - m);
    const auto k = tv.sample(r);
    double S = 0.0, dot = 0.0;
    if (tv.sparse()) {  // Q has one entry: a at the target class
      S = k.a;
      if (k.t >= 0) dot = k.a * static_cast<double>(zr[k.t * s] - m);
    } else {
      const T* pr = tv.prob ? tv.prob + base : nullptr;
      for (std::int64_t c = 0; c < rows.n; ++c) {
        const double q = tv.q(k, pr, c);
        S += q;
        if (q != 0.0) dot += q * static_cast<double>(zr[c * s] - m);  // 0 * -inf stays out
      }
    }
    const double lse = std::log(total);
    lp[r] = static_cast<T>(S * lse - dot);
    st[2 * r] = static_cast<double>(m);
    st[2 * r + 1] = lse;
  });
}

// d[s, c] = g_s * (S_s * softmax(z)[s, c] - Q[s, c]); g is 0-dim or one value per sample.
template <typename T>
void backward_kernel(const Tensor& g, const Tensor& z, const Prepared& p, const Tensor& stats,
                     const Tensor& out) {
  const TargetView<T> tv(p.cfg, p);
  const T* gp = g.data_ptr<T>();
  const bool scalar_g = g.dim() == 0;
  const T* zp = z.data_ptr<T>();
  const double* st = stats.data_ptr<double>();
  T* op = out.data_ptr<T>();
  const kernels::Rows rows = p.cfg.rows();
  kernels::for_each_row(rows, [&](std::int64_t r) {
    const std::int64_t base = rows.base(r), s = rows.inner;
    const T* zr = zp + base;
    T* orow = op + base;
    const T* pr = tv.prob ? tv.prob + base : nullptr;
    const T m = static_cast<T>(st[2 * r]), lse = static_cast<T>(st[2 * r + 1]);
    if (tv.ignored(r)) {
      // 0 times the softmax, as PyTorch's log_softmax backward gives it: 0 even when g is inf
      // (weights summing to 0), NaN where the row's softmax is NaN.
      for (std::int64_t c = 0; c < rows.n; ++c)
        orow[c * s] = T(0) * std::exp((zr[c * s] - m) - lse);
      return;
    }
    const auto k = tv.sample(r);
    double S = 0.0;
    if (tv.sparse())
      S = k.a;
    else
      for (std::int64_t c = 0; c < rows.n; ++c) S += tv.q(k, pr, c);
    const double gs = static_cast<double>(scalar_g ? gp[0] : gp[r]);
    const T gS = static_cast<T>(gs * S);
    for (std::int64_t c = 0; c < rows.n; ++c) orow[c * s] = gS * std::exp((zr[c * s] - m) - lse);
    if (tv.sparse()) {
      if (k.t >= 0) orow[k.t * s] -= static_cast<T>(gs * k.a);
    } else {
      for (std::int64_t c = 0; c < rows.n; ++c) orow[c * s] -= static_cast<T>(gs * tv.q(k, pr, c));
    }
  });
}

// Q with the logits' shape and S = sum_c Q with the class dim kept as 1 (constants).
std::pair<Tensor, Tensor> dense_targets(const Prepared& p, Dtype dtype) {
  Shape s_shape = p.cfg.shape;
  s_shape[1] = 1;
  Tensor Q = empty(p.cfg.shape, dtype), S = empty(s_shape, dtype);
  dispatch_floating(dtype, "cross_entropy", [&]<typename T>() {
    const TargetView<T> tv(p.cfg, p);
    T* qp = Q.data_ptr<T>();
    T* sp = S.data_ptr<T>();
    const kernels::Rows rows = p.cfg.rows();
    kernels::for_each_row(rows, [&](std::int64_t r) {
      const std::int64_t base = rows.base(r);
      const auto k = tv.sample(r);
      double total = 0.0;
      for (std::int64_t c = 0; c < rows.n; ++c) {
        const double q = tv.q(k, tv.prob ? tv.prob + base : nullptr, c);
        qp[base + c * rows.inner] = static_cast<T>(q);
        total += q;
      }
      sp[r] = static_cast<T>(total);
    });
  });
  return {Q, S};
}

// 1 at each kept sample's target class (class-index targets), else 0.
Tensor target_mask(const Prepared& p) {
  Tensor mask = zeros(p.cfg.shape, kUInt8);
  std::uint8_t* mp = mask.data_ptr<std::uint8_t>();
  const std::int64_t* t = p.target.data_ptr<std::int64_t>();
  const kernels::Rows rows = p.cfg.rows();
  for (std::int64_t r = 0; r < rows.count(); ++r)
    if (t[r] != p.cfg.ignore_index) mp[rows.base(r) + t[r] * rows.inner] = 1;
  return mask;
}

// Prepared from what a backward closure saved (checked already in forward).
Prepared restore(const Targets& cfg, const Tensor& target, const Tensor& weight) {
  Prepared p;
  p.cfg = cfg;
  p.target = target;
  p.weight = weight;
  return p;
}

// A per-sample gradient g ([N, d...] or 0-dim) shaped to broadcast against [N, C, d...].
Tensor per_class(const Tensor& g) { return g.dim() == 0 ? g : g.unsqueeze(1); }

// The fused gradient of cross entropy w.r.t. the logits, an op of its own: its derivative is
// written with softmax and elementwise ops, so cross entropy differentiates twice (and more).
Tensor ce_backward(const Tensor& g, const Tensor& z, const Tensor& target, const Tensor& weight,
                   const Tensor& stats, const Targets& cfg) {
  const Prepared p = restore(cfg, target, weight);
  const Tensor zc = z.detach().contiguous();
  const Tensor gc = g.detach().contiguous();
  Tensor out = empty(cfg.shape, z.dtype());
  dispatch_floating(z.dtype(), "cross_entropy",
                    [&]<typename T>() { backward_kernel<T>(gc, zc, p, stats, out); });
  return record("cross_entropy_backward", {g, z}, out, {g, z, target, weight},
                [cfg](const Tensor& gg, const Saved& s) {
                  const Tensor g = s[0], z = s[1];
                  const auto [Q, S] = dense_targets(restore(cfg, s[2], s[3]), z.dtype());
                  const Tensor p = softmax(z, 1);
                  Tensor dg, dz;
                  if (s.needs_grad(0)) dg = sum(gg * (S * p - Q), {1});
                  if (s.needs_grad(1)) {
                    const Tensor u = gg * p;
                    dz = per_class(g) * S * (u - p * sum(u, {1}, true));
                  }
                  return grads{dg, dz};
                });
}

// Reduces per-sample losses (double accumulation) as `reduction` asks.
Tensor reduce_losses(const Tensor& loss, Reduction reduction, double divisor) {
  if (reduction == Reduction::None) return loss;
  double total = 0.0;
  for (double v : loss.to_vector<double>()) total += v;
  if (reduction == Reduction::Mean) total /= divisor;  // 0 / 0 = NaN when nothing counts
  return scalar_tensor(total, loss.dtype());
}

Tensor cross_entropy_nd(const Tensor& z, const Tensor& target, const CrossEntropyOptions& o) {
  const Prepared p =
      prepare("cross_entropy", z, target, o.weight, o.label_smoothing, o.ignore_index, true);
  const Tensor zc = z.detach().contiguous();
  Tensor loss = empty(p.cfg.sample_shape(), z.dtype());
  Tensor stats = empty({p.cfg.N * p.cfg.inner, 2}, kFloat64);
  dispatch_floating(z.dtype(), "cross_entropy",
                    [&]<typename T>() { forward_kernel<T>(zc, p, loss, stats); });
  Tensor y = reduce_losses(loss, o.reduction, p.total_weight);
  const Reduction red = o.reduction;
  const double scale = p.mean_scale();
  // Probability targets may require grad: dloss_s / dP[s, c] = -(1 - eps) w[c] log_softmax(z).
  // Then the logits' gradient depends on P too, so it is composed of differentiable ops (the
  // fused cross_entropy_backward treats its targets as constants).
  return record("cross_entropy", {z, target}, y, {z, p.target, p.weight, stats, target},
                [cfg = p.cfg, red, scale](const Tensor& g, const Saved& s) {
                  const Tensor gi = red == Reduction::Mean ? g * scale : g;
                  const Tensor z = s[0], w = s[2];
                  Shape wshape(cfg.shape.size(), 1);
                  wshape[1] = cfg.C;
                  const auto weighted = [&](const Tensor& t) {
                    return w.defined() ? t * w.reshape(wshape) : t;
                  };
                  Tensor dz, dt;
                  if (s.needs_grad(0) && !s.needs_grad(1)) {
                    dz = ce_backward(gi, z, s[1], w, s[3], cfg);
                  } else if (s.needs_grad(0)) {
                    const double C = static_cast<double>(cfg.C);
                    const Tensor Q = weighted(s[4] * (1.0 - cfg.smoothing) + cfg.smoothing / C);
                    dz = per_class(gi) * (sum(Q, {1}, true) * softmax(z, 1) - Q);
                  }
                  if (s.needs_grad(1))
                    dt = weighted(log_softmax(z, 1) * (cfg.smoothing - 1.0)) * per_class(gi);
                  return grads{dz, dt};
                });
}

Tensor nll_loss_nd(const Tensor& lp, const Tensor& target, Reduction reduction,
                   std::int64_t ignore_index, const Tensor& weight) {
  const Prepared p = prepare("nll_loss", lp, target, weight, 0.0, ignore_index, false);
  const Tensor lpc = lp.detach().contiguous();
  Tensor loss = empty(p.cfg.sample_shape(), lp.dtype());
  dispatch_floating(lp.dtype(), "nll_loss", [&]<typename T>() {
    const TargetView<T> tv(p.cfg, p);
    const T* x = lpc.data_ptr<T>();
    T* out = loss.data_ptr<T>();
    const kernels::Rows rows = p.cfg.rows();
    for (std::int64_t r = 0; r < rows.count(); ++r) {
      const auto k = tv.sample(r);
      out[r] = k.t < 0 ? T(0) : static_cast<T>(-k.a * x[rows.base(r) + k.t * rows.inner]);
    }
  });
  Tensor y = reduce_losses(loss, reduction, p.total_weight);
  const double scale = p.mean_scale();
  return record("nll_loss", {lp}, y, {p.target, p.weight},
                [cfg = p.cfg, reduction, scale](const Tensor& g, const Saved& s) {
                  const Prepared p = restore(cfg, s[0], s[1]);
                  const Tensor Q = dense_targets(p, g.dtype()).first;
                  const Tensor gi = reduction == Reduction::Mean ? g * scale : g;
                  if (std::isfinite(scale)) return grads{-(Q * per_class(gi))};
                  // Weights summing to 0: PyTorch's 0 * -inf = NaN at the targets only.
                  return grads{where(target_mask(p), -(Q * per_class(gi)), 0.0)};
                });
}

// Unbatched input [C] (target 0-dim or [C]) runs as a batch of one.
bool unbatched(const Tensor& z) { return z.defined() && z.dim() == 1; }
Tensor unbatch(const Tensor& y, Reduction r) { return r == Reduction::None ? y.reshape({}) : y; }

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options) {
  if (unbatched(logits) && target.defined())
    return unbatch(cross_entropy_nd(logits.unsqueeze(0), target.unsqueeze(0), options),
                   options.reduction);
  return cross_entropy_nd(logits, target, options);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction,
                std::int64_t ignore_index, const Tensor& weight) {
  if (unbatched(log_probs) && target.defined())
    return unbatch(
        nll_loss_nd(log_probs.unsqueeze(0), target.unsqueeze(0), reduction, ignore_index, weight),
        reduction);
  return nll_loss_nd(log_probs, target, reduction, ignore_index, weight);
}

}  // namespace tg::nn::functional
