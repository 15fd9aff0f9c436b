#include "tapegrad/ops/kernels/attention.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "tapegrad/core/threading.h"
#include "tapegrad/ops/kernels/vec_math.h"

namespace tg::kernels {
namespace {

// A batch of matrices [..., rows, cols] read through strides: where each matrix starts and
// the stride between its rows (columns are unit-stride).
struct Mats {
  Tensor t;  // keeps the (possibly copied) data alive
  std::vector<std::int64_t> start;
  std::int64_t row_stride = 0;
};

Mats mats_of(const Tensor& in) {
  Mats m;
  m.t = in.strides().back() == 1 || in.size(-1) <= 1 ? in : in.contiguous();
  const std::int64_t nd = m.t.dim(), rows = m.t.size(-2), cols = m.t.size(-1);
  m.row_stride = rows > 1 ? m.t.strides()[static_cast<std::size_t>(nd - 2)] : cols;
  std::int64_t nb = 1;
  for (std::int64_t d = 0; d < nd - 2; ++d) nb *= m.t.size(d);
  m.start.assign(static_cast<std::size_t>(nb), 0);
  for (std::int64_t b = 0; b < nb; ++b) {  // the batch index unravelled over the batch dims
    std::int64_t rest = b, off = 0;
    for (std::int64_t d = nd - 3; d >= 0; --d) {
      off += (rest % m.t.size(d)) * m.t.strides()[static_cast<std::size_t>(d)];
      rest /= m.t.size(d);
    }
    m.start[static_cast<std::size_t>(b)] = off;
  }
  return m;
}

// y[0, n) += a * x[0, n): the loops every product below is made of (they vectorize).
template <typename T>
inline void axpy(T* __restrict y, const T* __restrict x, T a, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Matrices per task: about 64K multiply-adds each.
std::int64_t grain_of(std::int64_t tq, std::int64_t tk, std::int64_t d) {
  return std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(tq * tk * d, 1));
}

struct Dims {
  std::int64_t tq, tk, d, dv;
  bool causal;
  std::int64_t keys(std::int64_t i) const { return causal ? std::min(i + 1, tk) : tk; }
};

template <typename T>
void forward_one(const T* q, std::int64_t qs, const T* k, std::int64_t ks, const T* v,
                 std::int64_t vs, T* o, T* p, const Dims& n, T scale, T* kt) {
  for (std::int64_t j = 0; j < n.tk; ++j)  // k transposed: rows of scores are axpys over keys
    for (std::int64_t c = 0; c < n.d; ++c) kt[c * n.tk + j] = k[j * ks + c];
  for (std::int64_t i = 0; i < n.tq; ++i) {
    const std::int64_t len = n.keys(i);
    T* pr = p + i * n.tk;
    std::fill(pr, pr + n.tk, T(0));
    for (std::int64_t c = 0; c < n.d; ++c) axpy(pr, kt + c * n.tk, q[i * qs + c] * scale, len);
    T m = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j < len; ++j) m = std::max(m, pr[j]);
    double total = 0.0;
    for (std::int64_t j = 0; j < len; ++j) {
      pr[j] = vec::exp(pr[j] - m);
      total += static_cast<double>(pr[j]);
    }
    const T inv = static_cast<T>(1.0 / total);
    for (std::int64_t j = 0; j < len; ++j) pr[j] *= inv;
    T* orow = o + i * n.dv;
    std::fill(orow, orow + n.dv, T(0));
    for (std::int64_t j = 0; j < len; ++j) axpy(orow, v + j * vs, pr[j], n.dv);
  }
}

// dP = g v^T, dS = P (dP - rowsum(P dP)) * scale, gq = dS k, gk = dS^T q, gv = P^T g.
template <typename T>
void backward_one(const T* g, const T* q, std::int64_t qs, const T* k, std::int64_t ks, const T* v,
                  std::int64_t vs, const T* p, T* gq, T* gk, T* gv, const Dims& n, T scale, T* vt,
                  T* ds) {
  for (std::int64_t j = 0; j < n.tk; ++j)
    for (std::int64_t c = 0; c < n.dv; ++c) vt[c * n.tk + j] = v[j * vs + c];
  std::fill(gk, gk + n.tk * n.d, T(0));
  std::fill(gv, gv + n.tk * n.dv, T(0));
  for (std::int64_t i = 0; i < n.tq; ++i) {
    const std::int64_t len = n.keys(i);
    const T* pr = p + i * n.tk;
    const T* gr = g + i * n.dv;
    std::fill(ds, ds + len, T(0));
    for (std::int64_t c = 0; c < n.dv; ++c) axpy(ds, vt + c * n.tk, gr[c], len);
    double delta = 0.0;
    for (std::int64_t j = 0; j < len; ++j) delta += static_cast<double>(pr[j] * ds[j]);
    const T dl = static_cast<T>(delta);
    for (std::int64_t j = 0; j < len; ++j) ds[j] = pr[j] * (ds[j] - dl) * scale;
    T* gqr = gq + i * n.d;
    std::fill(gqr, gqr + n.d, T(0));
    const T* qr = q + i * qs;
    for (std::int64_t j = 0; j < len; ++j) {
      axpy(gqr, k + j * ks, ds[j], n.d);
      axpy(gk + j * n.d, qr, ds[j], n.d);
      axpy(gv + j * n.dv, gr, pr[j], n.dv);
    }
  }
}

}  // namespace

std::pair<Tensor, Tensor> attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                            double scale, bool causal) {
  const Mats mq = mats_of(q), mk = mats_of(k), mv = mats_of(v);
  const Dims n{q.size(-2), k.size(-2), q.size(-1), v.size(-1), causal};
  const auto nb = static_cast<std::int64_t>(mq.start.size());
  Shape out_shape = q.shape();
  out_shape.back() = n.dv;
  Tensor out = empty(out_shape, q.dtype()), probs = empty({nb, n.tq, n.tk}, q.dtype());
  dispatch_floating(q.dtype(), "scaled_dot_product_attention", [&]<typename T>() {
    const T *qp = mq.t.data_ptr<T>(), *kp = mk.t.data_ptr<T>(), *vp = mv.t.data_ptr<T>();
    T *op = out.data_ptr<T>(), *pp = probs.data_ptr<T>();
    detail::parallel_for(
        nb, grain_of(n.tq, n.tk, std::max(n.d, n.dv)), [&](std::int64_t b0, std::int64_t b1) {
          std::vector<T> kt(static_cast<std::size_t>(n.d * n.tk));
          for (std::int64_t b = b0; b < b1; ++b) {
            const auto i = static_cast<std::size_t>(b);
            forward_one(qp + mq.start[i], mq.row_stride, kp + mk.start[i], mk.row_stride,
                        vp + mv.start[i], mv.row_stride, op + b * n.tq * n.dv, pp + b * n.tq * n.tk,
                        n, static_cast<T>(scale), kt.data());
          }
        });
  });
  return {out, probs};
}

std::array<Tensor, 3> attention_backward(const Tensor& g, const Tensor& q, const Tensor& k,
                                         const Tensor& v, const Tensor& probs, double scale,
                                         bool causal) {
  const Mats mq = mats_of(q), mk = mats_of(k), mv = mats_of(v);
  const Tensor gc = g.contiguous(), pc = probs.contiguous();
  const Dims n{q.size(-2), k.size(-2), q.size(-1), v.size(-1), causal};
  const auto nb = static_cast<std::int64_t>(mq.start.size());
  Tensor gq = empty(q.shape(), q.dtype()), gk = empty(k.shape(), k.dtype()),
         gv = empty(v.shape(), v.dtype());
  dispatch_floating(q.dtype(), "scaled_dot_product_attention", [&]<typename T>() {
    const T *qp = mq.t.data_ptr<T>(), *kp = mk.t.data_ptr<T>(), *vp = mv.t.data_ptr<T>();
    const T *gp = gc.data_ptr<T>(), *pp = pc.data_ptr<T>();
    T *gqp = gq.data_ptr<T>(), *gkp = gk.data_ptr<T>(), *gvp = gv.data_ptr<T>();
    detail::parallel_for(
        nb, grain_of(n.tq, n.tk, std::max(n.d, n.dv)), [&](std::int64_t b0, std::int64_t b1) {
          std::vector<T> vt(static_cast<std::size_t>(n.dv * n.tk)),
              ds(static_cast<std::size_t>(n.tk));
          for (std::int64_t b = b0; b < b1; ++b) {
            const auto i = static_cast<std::size_t>(b);
            backward_one(gp + b * n.tq * n.dv, qp + mq.start[i], mq.row_stride, kp + mk.start[i],
                         mk.row_stride, vp + mv.start[i], mv.row_stride, pp + b * n.tq * n.tk,
                         gqp + b * n.tq * n.d, gkp + b * n.tk * n.d, gvp + b * n.tk * n.dv, n,
                         static_cast<T>(scale), vt.data(), ds.data());
          }
        });
  });
  return {gq, gk, gv};
}

}  // namespace tg::kernels
