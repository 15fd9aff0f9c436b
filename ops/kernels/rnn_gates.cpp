#include "tapegrad/ops/kernels/rnn_gates.h"

#include <algorithm>

#include "tapegrad/core/threading.h"
#include "tapegrad/ops/kernels/vec_math.h"

namespace tg::kernels {

namespace {
// Rows per task: a row is a few hundred elements of cheap arithmetic.
std::int64_t row_grain(std::int64_t H) {
  return std::max<std::int64_t>(1, detail::kElementwiseGrain / (8 * std::max<std::int64_t>(H, 1)));
}

// One row each. The restrict-qualified pointers tell the compiler the buffers do not overlap,
// which is what lets it vectorize these loops (with plain pointers it kept them scalar, 4x
// slower on [64, 1024] gates).
template <typename T>
void lstm_row(const T* __restrict g, const T* __restrict cp, T* __restrict a, T* __restrict co,
              T* __restrict tco, T* __restrict ho, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T i = vec::sigmoid(g[j]), f = vec::sigmoid(g[H + j]);
    const T gg = vec::tanh(g[2 * H + j]), o = vec::sigmoid(g[3 * H + j]);
    const T cn = f * cp[j] + i * gg;
    const T t = vec::tanh(cn);
    a[j] = i;
    a[H + j] = f;
    a[2 * H + j] = gg;
    a[3 * H + j] = o;
    co[j] = cn;
    tco[j] = t;
    ho[j] = o * t;
  }
}

template <typename T>
void lstm_row_backward(const T* __restrict dh, const T* __restrict dcn, const T* __restrict a,
                       const T* __restrict tc, const T* __restrict cp, T* __restrict dg,
                       T* __restrict dc_prev, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j];
    const T t = tc[j], d = dh[j];
    const T dc = (dcn ? dcn[j] : T(0)) + d * o * (T(1) - t * t);
    dg[j] = dc * gg * i * (T(1) - i);
    dg[H + j] = dc * cp[j] * f * (T(1) - f);
    dg[2 * H + j] = dc * i * (T(1) - gg * gg);
    dg[3 * H + j] = d * t * o * (T(1) - o);
    dc_prev[j] = dc * f;
  }
}

template <typename T>
void gru_row(const T* __restrict x, const T* __restrict hh, const T* __restrict hp, T* __restrict a,
             T* __restrict ho, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T r = vec::sigmoid(x[j] + hh[j]);
    const T z = vec::sigmoid(x[H + j] + hh[H + j]);
    const T n = vec::tanh(x[2 * H + j] + r * hh[2 * H + j]);
    a[j] = r;
    a[H + j] = z;
    a[2 * H + j] = n;
    ho[j] = n + z * (hp[j] - n);
  }
}

template <typename T>
void gru_row_backward(const T* __restrict g, const T* __restrict a, const T* __restrict hh,
                      const T* __restrict hp, T* __restrict dx, T* __restrict dh, T* __restrict dhp,
                      std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T r = a[j], z = a[H + j], n = a[2 * H + j], d = g[j];
    const T dn = d * (T(1) - z) * (T(1) - n * n);  // w.r.t. n's pre-activation
    const T dz = d * (hp[j] - n) * z * (T(1) - z);
    const T dr = dn * hh[2 * H + j] * r * (T(1) - r);
    dx[j] = dr;
    dh[j] = dr;
    dx[H + j] = dz;
    dh[H + j] = dz;
    dx[2 * H + j] = dn;
    dh[2 * H + j] = dn * r;
    dhp[j] = d * z;
  }
}
}  // namespace

void lstm_gates_forward(const Tensor& gates, const Tensor& c, const Tensor& h_out,
                        const Tensor& c_out, const Tensor& act, const Tensor& tc) {
  const std::int64_t B = c.size(0), H = c.size(1);
  dispatch_floating(c.dtype(), "lstm_cell", [&]<typename T>() {
    const T* G = gates.data_ptr<T>();
    const T* C = c.data_ptr<T>();
    T *Ho = h_out.data_ptr<T>(), *Co = c_out.data_ptr<T>(), *A = act.data_ptr<T>(),
      *TC = tc.data_ptr<T>();
    detail::parallel_for(B, row_grain(H), [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        lstm_row<T>(G + b * 4 * H, C + b * H, A + b * 4 * H, Co + b * H, TC + b * H, Ho + b * H, H);
    });
  });
}

void lstm_gates_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& tc,
                         const Tensor& c, const Tensor& g_gates, const Tensor& g_c) {
  const std::int64_t B = c.size(0), H = c.size(1);
  dispatch_floating(c.dtype(), "lstm_cell", [&]<typename T>() {
    const T* GH = gh.data_ptr<T>();
    const T* GC = gc.defined() ? gc.data_ptr<T>() : nullptr;
    const T *A = act.data_ptr<T>(), *TC = tc.data_ptr<T>(), *C = c.data_ptr<T>();
    T *GG = g_gates.data_ptr<T>(), *GCp = g_c.data_ptr<T>();
    detail::parallel_for(B, row_grain(H), [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        lstm_row_backward<T>(GH + b * H, GC ? GC + b * H : nullptr, A + b * 4 * H, TC + b * H,
                             C + b * H, GG + b * 4 * H, GCp + b * H, H);
    });
  });
}

void gru_gates_forward(const Tensor& gx, const Tensor& gh, const Tensor& h, const Tensor& h_out,
                       const Tensor& act) {
  const std::int64_t B = h.size(0), H = h.size(1);
  dispatch_floating(h.dtype(), "gru_cell", [&]<typename T>() {
    const T *X = gx.data_ptr<T>(), *Hh = gh.data_ptr<T>(), *Hp = h.data_ptr<T>();
    T *Ho = h_out.data_ptr<T>(), *A = act.data_ptr<T>();
    detail::parallel_for(B, row_grain(H), [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        gru_row<T>(X + b * 3 * H, Hh + b * 3 * H, Hp + b * H, A + b * 3 * H, Ho + b * H, H);
    });
  });
}

void gru_gates_backward(const Tensor& g, const Tensor& act, const Tensor& gh, const Tensor& h,
                        const Tensor& g_gx, const Tensor& g_gh, const Tensor& g_h) {
  const std::int64_t B = h.size(0), H = h.size(1);
  dispatch_floating(h.dtype(), "gru_cell", [&]<typename T>() {
    const T *G = g.data_ptr<T>(), *A = act.data_ptr<T>(), *Hh = gh.data_ptr<T>(),
            *Hp = h.data_ptr<T>();
    T *DX = g_gx.data_ptr<T>(), *DH = g_gh.data_ptr<T>(), *DHp = g_h.data_ptr<T>();
    detail::parallel_for(B, row_grain(H), [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        gru_row_backward<T>(G + b * H, A + b * 3 * H, Hh + b * 3 * H, Hp + b * H, DX + b * 3 * H,
                            DH + b * 3 * H, DHp + b * H, H);
    });
  });
}

}  // namespace tg::kernels
