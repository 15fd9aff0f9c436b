#include "tapegrad/ops/kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tapegrad/core/threading.h"

namespace tg::kernels {

std::vector<Window> strided_windows(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                    std::int64_t stride, std::int64_t pad, std::int64_t dilation) {
  std::vector<Window> w(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t start = o * stride - pad;
    // Taps start + j * dilation for j in [0, kernel) that land inside [0, in).
    const std::int64_t lo = start < 0 ? (-start + dilation - 1) / dilation : 0;
    const std::int64_t hi =
        in - 1 - start < 0 ? 0 : std::min(kernel, (in - 1 - start) / dilation + 1);
    Window& win = w[static_cast<std::size_t>(o)];
    win.first = start + lo * dilation;
    win.step = dilation;
    win.count = std::max<std::int64_t>(hi - lo, 0);
    // PyTorch's avg_pool divisor with count_include_pad: the window clipped to the padded input.
    win.padded = std::min(start + kernel, in + pad) - start;
  }
  return w;
}

std::vector<Window> adaptive_windows(std::int64_t in, std::int64_t out) {
  std::vector<Window> w(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t begin = o * in / out;
    const std::int64_t end = ((o + 1) * in + out - 1) / out;
    w[static_cast<std::size_t>(o)] = {begin, 1, end - begin, end - begin};
  }
  return w;
}

namespace {

// Planes per task: enough values that a task is worth its scheduling.
std::int64_t plane_grain(const PoolPlan& p) {
  const std::int64_t per_plane = p.H * p.W + p.OH() * p.OW() + 1;
  return std::max<std::int64_t>(1, detail::kElementwiseGrain / per_plane);
}

// PyTorch's rule, in window order (rows, then columns): a value replaces the running maximum if
// it is larger or NaN, so ties keep the first and the last NaN wins.
template <typename T>
void max_plane(const PoolPlan& p, const T* x, T* y, std::int64_t* idx) {
  const std::int64_t W = p.W;
  for (std::int64_t oh = 0; oh < p.OH(); ++oh) {
    const Window& r = p.rows[static_cast<std::size_t>(oh)];
    T* yr = y + oh * p.OW();
    std::int64_t* ir = idx + oh * p.OW();
    for (std::int64_t ow = 0; ow < p.OW(); ++ow) {
      const Window& c = p.cols[static_cast<std::size_t>(ow)];
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t bi = r.first * W + c.first;
      for (std::int64_t i = 0; i < r.count; ++i) {
        const std::int64_t ih = r.first + i * r.step;
        const T* row = x + ih * W;
        for (std::int64_t j = 0; j < c.count; ++j) {
          const std::int64_t iw = c.first + j * c.step;
          const T v = row[iw];
          const bool take = (v > best) | (v != v);
          best = take ? v : best;
          bi = take ? ih * W + iw : bi;
        }
      }
      yr[ow] = best;
      ir[ow] = bi;
    }
  }
}

// Fast path for kernel 2, stride 2, no padding or dilation (the usual CNN down-sampling): the
// four taps of each output in PyTorch's order, with loads the compiler can vectorize.
template <typename T>
void max_plane_2x2(const PoolPlan& p, const T* x, T* y, std::int64_t* idx) {
  const std::int64_t W = p.W, OW = p.OW();
  for (std::int64_t oh = 0; oh < p.OH(); ++oh) {
    const T* __restrict r0 = x + 2 * oh * W;
    const T* __restrict r1 = r0 + W;
    T* __restrict yr = y + oh * OW;
    std::int64_t* __restrict ir = idx + oh * OW;
    const std::int64_t base = 2 * oh * W;
    for (std::int64_t ow = 0; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T best = a;  // a > -inf or a is NaN or a == -inf: a's index either way
      std::int64_t k = 0;
      bool t = (b > best) | (b != b);
      best = t ? b : best;
      k = t ? 1 : k;
      t = (c > best) | (c != c);
      best = t ? c : best;
      k = t ? W : k;
      t = (d > best) | (d != d);
      best = t ? d : best;
      k = t ? W + 1 : k;
      yr[ow] = best;
      ir[ow] = base + 2 * ow + k;
    }
  }
}

bool is_plain_2x2(const PoolPlan& p) {
  if (p.OH() == 0 || p.OW() == 0) return false;
  for (std::int64_t o = 0; o < p.OH(); ++o) {
    const Window& w = p.rows[static_cast<std::size_t>(o)];
    if (w.first != 2 * o || w.count != 2 || w.step != 1) return false;
  }
  for (std::int64_t o = 0; o < p.OW(); ++o) {
    const Window& w = p.cols[static_cast<std::size_t>(o)];
    if (w.first != 2 * o || w.count != 2 || w.step != 1) return false;
  }
  return true;
}

std::int64_t divisor(const PoolPlan& p, const Window& r, const Window& c) {
  if (p.divisor_override) return *p.divisor_override;
  return p.count_include_pad ? r.padded * c.padded : r.count * c.count;
}

template <typename T>
void avg_plane(const PoolPlan& p, const T* x, T* y) {
  for (std::int64_t oh = 0; oh < p.OH(); ++oh) {
    const Window& r = p.rows[static_cast<std::size_t>(oh)];
    for (std::int64_t ow = 0; ow < p.OW(); ++ow) {
      const Window& c = p.cols[static_cast<std::size_t>(ow)];
      T s = 0;
      for (std::int64_t i = 0; i < r.count; ++i) {
        const T* row = x + (r.first + i * r.step) * p.W + c.first;
        for (std::int64_t j = 0; j < c.count; ++j) s += row[j * c.step];
      }
      const bool empty = r.count == 0 || c.count == 0;
      y[oh * p.OW() + ow] = empty ? T(0) : s / static_cast<T>(divisor(p, r, c));
    }
  }
}

template <typename T>
void avg_plane_adjoint(const PoolPlan& p, const T* g, T* gx) {
  std::fill(gx, gx + p.H * p.W, T(0));
  for (std::int64_t oh = 0; oh < p.OH(); ++oh) {
    const Window& r = p.rows[static_cast<std::size_t>(oh)];
    for (std::int64_t ow = 0; ow < p.OW(); ++ow) {
      const Window& c = p.cols[static_cast<std::size_t>(ow)];
      if (r.count == 0 || c.count == 0) continue;
      const T v = g[oh * p.OW() + ow] / static_cast<T>(divisor(p, r, c));
      for (std::int64_t i = 0; i < r.count; ++i) {
        T* row = gx + (r.first + i * r.step) * p.W + c.first;
        for (std::int64_t j = 0; j < c.count; ++j) row[j * c.step] += v;
      }
    }
  }
}

}  // namespace

void max_pool(const PoolPlan& p, const Tensor& x, Tensor& y, Tensor& indices) {
  const std::int64_t in_plane = p.H * p.W, out_plane = p.OH() * p.OW();
  const bool fast = is_plain_2x2(p);
  dispatch_floating(x.dtype(), "max_pool2d", [&]<typename T>() {
    const T* xs = x.data_ptr<T>();
    T* ys = y.data_ptr<T>();
    std::int64_t* is = indices.data_ptr<std::int64_t>();
    detail::parallel_for(p.planes, plane_grain(p), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t q = b; q < e; ++q) {
        if (fast)
          max_plane_2x2<T>(p, xs + q * in_plane, ys + q * out_plane, is + q * out_plane);
        else
          max_plane<T>(p, xs + q * in_plane, ys + q * out_plane, is + q * out_plane);
      }
    });
  });
}

void max_pool_scatter(const PoolPlan& p, const Tensor& g, const Tensor& indices, Tensor& gx) {
  const std::int64_t in_plane = p.H * p.W, out_plane = p.OH() * p.OW();
  dispatch_floating(g.dtype(), "max_pool2d_backward", [&]<typename T>() {
    const T* gs = g.data_ptr<T>();
    T* out = gx.data_ptr<T>();
    const std::int64_t* is = indices.data_ptr<std::int64_t>();
    detail::parallel_for(p.planes, plane_grain(p), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t q = b; q < e; ++q) {
        T* dst = out + q * in_plane;
        std::fill(dst, dst + in_plane, T(0));
        const T* src = gs + q * out_plane;
        const std::int64_t* ix = is + q * out_plane;
        for (std::int64_t o = 0; o < out_plane; ++o) dst[ix[o]] += src[o];
      }
    });
  });
}

void avg_pool(const PoolPlan& p, const Tensor& in, Tensor& out, bool adjoint) {
  const std::int64_t in_plane = adjoint ? p.OH() * p.OW() : p.H * p.W;
  const std::int64_t out_plane = adjoint ? p.H * p.W : p.OH() * p.OW();
  dispatch_floating(in.dtype(), adjoint ? "avg_pool2d_backward" : "avg_pool2d", [&]<typename T>() {
    const T* src = in.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    detail::parallel_for(p.planes, plane_grain(p), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t q = b; q < e; ++q) {
        if (adjoint)
          avg_plane_adjoint<T>(p, src + q * in_plane, dst + q * out_plane);
        else
          avg_plane<T>(p, src + q * in_plane, dst + q * out_plane);
      }
    });
  });
}

}  // namespace tg::kernels
