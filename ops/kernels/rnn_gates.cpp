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
      for (std::int64_t b = b0; b < b1; ++b) {
        const T* g = G + b * 4 * H;
        T* a = A + b * 4 * H;
        const T* cp = C + b * H;
        for (std::int64_t j = 0; j < H; ++j) {
          const T i = vec::sigmoid(g[j]), f = vec::sigmoid(g[H + j]);
          const T gg = vec::tanh(g[2 * H + j]), o = vec::sigmoid(g[3 * H + j]);
          const T cn = f * cp[j] + i * gg;
          const T t = vec::tanh(cn);
          a[j] = i;
          a[H + j] = f;
          a[2 * H + j] = gg;
          a[3 * H + j] = o;
          Co[b * H + j] = cn;
          TC[b * H + j] = t;
          Ho[b * H + j] = o * t;
        }
      }
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
      for (std::int64_t b = b0; b < b1; ++b) {
        const T* a = A + b * 4 * H;
        T* dg = GG + b * 4 * H;
        for (std::int64_t j = 0; j < H; ++j) {
          const std::int64_t k = b * H + j;
          const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j];
          const T t = TC[k], dh = GH[k];
          const T dc = (GC ? GC[k] : T(0)) + dh * o * (T(1) - t * t);
          dg[j] = dc * gg * i * (T(1) - i);
          dg[H + j] = dc * C[k] * f * (T(1) - f);
          dg[2 * H + j] = dc * i * (T(1) - gg * gg);
          dg[3 * H + j] = dh * t * o * (T(1) - o);
          GCp[k] = dc * f;
        }
      }
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
      for (std::int64_t b = b0; b < b1; ++b) {
        const T* x = X + b * 3 * H;
        const T* hh = Hh + b * 3 * H;
        T* a = A + b * 3 * H;
        for (std::int64_t j = 0; j < H; ++j) {
          const T r = vec::sigmoid(x[j] + hh[j]);
          const T z = vec::sigmoid(x[H + j] + hh[H + j]);
          const T n = vec::tanh(x[2 * H + j] + r * hh[2 * H + j]);
          a[j] = r;
          a[H + j] = z;
          a[2 * H + j] = n;
          Ho[b * H + j] = n + z * (Hp[b * H + j] - n);
        }
      }
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
      for (std::int64_t b = b0; b < b1; ++b) {
        const T* a = A + b * 3 * H;
        const T* hh = Hh + b * 3 * H;
        T* dx = DX + b * 3 * H;
        T* dh = DH + b * 3 * H;
        for (std::int64_t j = 0; j < H; ++j) {
          const std::int64_t k = b * H + j;
          const T r = a[j], z = a[H + j], n = a[2 * H + j], d = G[k];
          const T dn = d * (T(1) - z) * (T(1) - n * n);  // w.r.t. n's pre-activation
          const T dz = d * (Hp[k] - n) * z * (T(1) - z);
          const T dr = dn * hh[2 * H + j] * r * (T(1) - r);
          dx[j] = dh[j] = dr;
          dx[H + j] = dh[H + j] = dz;
          dx[2 * H + j] = dn;
          dh[2 * H + j] = dn * r;
          DHp[k] = d * z;
        }
      }
    });
  });
}

}  // namespace tg::kernels
