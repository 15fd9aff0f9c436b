#include "tapegrad/ops/kernels/attention.h"

#include <algorithm>
#include <cstring>
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

// Lanes of one accumulator block: a cache line of T. Every product below is, for R rows r,
// out[r][0, len) = scale * sum over c < C of a[r * a_row + c * a_stride] * m[c * ld + 0, len),
// summed in R x kW blocks held in registers: R independent chains keep the FMA units busy (one
// row accumulated in memory instead waited on a store and a load per term). m must be readable
// (zero-padded) up to len rounded up to kW.
template <typename T>
inline constexpr std::int64_t kW = 64 / sizeof(T);
constexpr std::int64_t kRows = 4;

std::int64_t padded(std::int64_t n, std::int64_t w) { return (n + w - 1) / w * w; }

template <std::int64_t R, typename T>
void rows_times_mat(const T* a, std::int64_t a_row, std::int64_t a_stride, const T* m,
                    std::int64_t ld, std::int64_t C, std::int64_t len, T scale, T* out,
                    std::int64_t out_row) {
  constexpr std::int64_t W = kW<T>;
  // GCC's vector type, so each accumulator is one register (left to the auto-vectorizer, the
  // R x W block was shuffled lane by lane).
  typedef T Vec __attribute__((vector_size(64)));
  for (std::int64_t j0 = 0; j0 < len; j0 += W) {
    Vec acc[R];
    for (std::int64_t r = 0; r < R; ++r) acc[r] = Vec{};
    for (std::int64_t c = 0; c < C; ++c) {
      Vec mv;
      std::memcpy(&mv, m + c * ld + j0, sizeof(Vec));
      for (std::int64_t r = 0; r < R; ++r) acc[r] += a[r * a_row + c * a_stride] * mv;
    }
    const std::int64_t n = std::min(W, len - j0);
    for (std::int64_t r = 0; r < R; ++r) {
      T lanes[W];
      std::memcpy(lanes, &acc[r], sizeof(Vec));
      for (std::int64_t w = 0; w < n; ++w) out[r * out_row + j0 + w] = lanes[w] * scale;
    }
  }
}

// rows_times_mat over `rows` rows: blocks of kRows, then single rows.
template <typename T>
void mat_times_mat(std::int64_t rows, const T* a, std::int64_t a_row, std::int64_t a_stride,
                   const T* m, std::int64_t ld, std::int64_t C, std::int64_t len, T scale, T* out,
                   std::int64_t out_row) {
  std::int64_t r = 0;
  for (; r + kRows <= rows; r += kRows)
    rows_times_mat<kRows>(a + r * a_row, a_row, a_stride, m, ld, C, len, scale, out + r * out_row,
                          out_row);
  for (; r < rows; ++r)
    rows_times_mat<1>(a + r * a_row, a_row, a_stride, m, ld, C, len, scale, out + r * out_row,
                      out_row);
}

// dst [rows, ld] (zero-padded columns) = src rows (row stride rs), or its transpose into
// dst [cols, ld] when `transpose`.
template <typename T>
void pack(const T* src, std::int64_t rs, std::int64_t rows, std::int64_t cols, bool transpose,
          std::int64_t ld, T* dst) {
  const std::int64_t out_rows = transpose ? cols : rows;
  std::fill(dst, dst + out_rows * ld, T(0));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      (transpose ? dst[c * ld + r] : dst[r * ld + c]) = src[r * rs + c];
}

// Matrices per task: about 64K multiply-adds each.
std::int64_t grain_of(std::int64_t tq, std::int64_t tk, std::int64_t d) {
  return std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(tq * tk * d, 1));
}

struct Dims {
  std::int64_t tq, tk, d, dv;
  bool causal;
  std::int64_t keys(std::int64_t i) const { return causal ? std::min(i + 1, tk) : tk; }
  std::int64_t first_query(std::int64_t j) const { return causal ? j : 0; }  // first i seeing j
};

// Scratch of one task, sized once per task.
template <typename T>
struct Scratch {
  std::int64_t tkp, dp, dvp;
  std::vector<T> a, b, c, d;
  explicit Scratch(const Dims& n)
      : tkp(padded(n.tk, kW<T>)), dp(padded(n.d, kW<T>)), dvp(padded(n.dv, kW<T>)) {}
};

template <typename T>
void forward_one(const T* q, std::int64_t qs, const T* k, std::int64_t ks, const T* v,
                 std::int64_t vs, T* o, T* p, const Dims& n, T scale, Scratch<T>& s) {
  s.a.resize(static_cast<std::size_t>(n.d * s.tkp));
  s.b.resize(static_cast<std::size_t>(n.tk * s.dvp));
  T* kt = s.a.data();  // k^T [d, tkp]
  T* vp = s.b.data();  // v [tk, dvp]
  pack(k, ks, n.tk, n.d, true, s.tkp, kt);
  pack(v, vs, n.tk, n.dv, false, s.dvp, vp);
  // Blocks of kRows queries: scores up to the block's last key (entries past a row's own keys
  // are overwritten with 0 after its softmax, so the block's output product may read them).
  for (std::int64_t i0 = 0; i0 < n.tq; i0 += kRows) {
    const std::int64_t rows = std::min(kRows, n.tq - i0), len = n.keys(i0 + rows - 1);
    mat_times_mat(rows, q + i0 * qs, qs, 1, kt, s.tkp, n.d, len, scale, p + i0 * n.tk, n.tk);
    for (std::int64_t i = i0; i < i0 + rows; ++i) {
      const std::int64_t own = n.keys(i);
      T* pr = p + i * n.tk;
      T m = -std::numeric_limits<T>::infinity();
      for (std::int64_t j = 0; j < own; ++j) m = std::max(m, pr[j]);
      double total = 0.0;
      for (std::int64_t j = 0; j < own; ++j) {
        pr[j] = vec::exp(pr[j] - m);
        total += static_cast<double>(pr[j]);
      }
      const T inv = static_cast<T>(1.0 / total);
      for (std::int64_t j = 0; j < own; ++j) pr[j] *= inv;
      std::fill(pr + own, pr + n.tk, T(0));
    }
    mat_times_mat(rows, p + i0 * n.tk, n.tk, 1, vp, s.dvp, len, n.dv, T(1), o + i0 * n.dv, n.dv);
  }
}

// dP = g v^T, dS = P (dP - rowsum(P dP)) * scale, gq = dS k, gk = dS^T q, gv = P^T g.
template <typename T>
void backward_one(const T* g, std::int64_t gs, const T* q, std::int64_t qs, const T* k,
                  std::int64_t ks, const T* v, std::int64_t vs, const T* p, T* gq, T* gk, T* gv,
                  const Dims& n, T scale, Scratch<T>& s) {
  s.a.resize(static_cast<std::size_t>(std::max(n.dv * s.tkp, n.tq * s.dp)));
  s.b.resize(static_cast<std::size_t>(std::max(n.tk * s.dp, n.tq * s.dvp)));
  s.c.resize(static_cast<std::size_t>(n.tq * s.tkp));
  T* vt = s.a.data();  // v^T [dv, tkp], later q [tq, dp]
  T* kp = s.b.data();  // k [tk, dp], later g [tq, dvp]
  T* ds = s.c.data();  // dS [tq, tkp]
  pack(v, vs, n.tk, n.dv, true, s.tkp, vt);
  pack(k, ks, n.tk, n.d, false, s.dp, kp);
  for (std::int64_t i0 = 0; i0 < n.tq; i0 += kRows) {
    const std::int64_t rows = std::min(kRows, n.tq - i0), len = n.keys(i0 + rows - 1);
    mat_times_mat(rows, g + i0 * gs, gs, 1, vt, s.tkp, n.dv, len, T(1), ds + i0 * s.tkp, s.tkp);
    for (std::int64_t i = i0; i < i0 + rows; ++i) {
      const std::int64_t own = n.keys(i);
      const T* pr = p + i * n.tk;
      T* dr = ds + i * s.tkp;
      double delta = 0.0;
      for (std::int64_t j = 0; j < own; ++j) delta += static_cast<double>(pr[j] * dr[j]);
      const T dl = static_cast<T>(delta);
      for (std::int64_t j = 0; j < own; ++j) dr[j] = pr[j] * (dr[j] - dl) * scale;
      std::fill(dr + own, dr + s.tkp, T(0));  // masked: read as zeros by the products below
    }
    mat_times_mat(rows, ds + i0 * s.tkp, s.tkp, 1, kp, s.dp, len, n.d, T(1), gq + i0 * n.d, n.d);
  }
  T* qp = s.a.data();
  T* gp = s.b.data();
  pack(q, qs, n.tq, n.d, false, s.dp, qp);
  pack(g, gs, n.tq, n.dv, false, s.dvp, gp);
  // Columns of dS and P, kRows keys at a time, over the queries that see the block's first key
  // (masked entries are 0 in both).
  for (std::int64_t j0 = 0; j0 < n.tk; j0 += kRows) {
    const std::int64_t keys = std::min(kRows, n.tk - j0);
    const std::int64_t i0 = std::min(n.first_query(j0), n.tq), rows = n.tq - i0;
    mat_times_mat(keys, ds + i0 * s.tkp + j0, 1, s.tkp, qp + i0 * s.dp, s.dp, rows, n.d, T(1),
                  gk + j0 * n.d, n.d);
    mat_times_mat(keys, p + i0 * n.tk + j0, 1, n.tk, gp + i0 * s.dvp, s.dvp, rows, n.dv, T(1),
                  gv + j0 * n.dv, n.dv);
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
          Scratch<T> scratch(n);
          for (std::int64_t b = b0; b < b1; ++b) {
            const auto i = static_cast<std::size_t>(b);
            forward_one(qp + mq.start[i], mq.row_stride, kp + mk.start[i], mk.row_stride,
                        vp + mv.start[i], mv.row_stride, op + b * n.tq * n.dv, pp + b * n.tq * n.tk,
                        n, static_cast<T>(scale), scratch);
          }
        });
  });
  return {out, probs};
}

std::array<Tensor, 3> attention_backward(const Tensor& g, const Tensor& q, const Tensor& k,
                                         const Tensor& v, const Tensor& probs, double scale,
                                         bool causal) {
  const Mats mq = mats_of(q), mk = mats_of(k), mv = mats_of(v);
  const Mats mg = mats_of(g);
  const Tensor pc = probs.contiguous();
  const Dims n{q.size(-2), k.size(-2), q.size(-1), v.size(-1), causal};
  const auto nb = static_cast<std::int64_t>(mq.start.size());
  Tensor gq = empty(q.shape(), q.dtype()), gk = empty(k.shape(), k.dtype()),
         gv = empty(v.shape(), v.dtype());
  dispatch_floating(q.dtype(), "scaled_dot_product_attention", [&]<typename T>() {
    const T *qp = mq.t.data_ptr<T>(), *kp = mk.t.data_ptr<T>(), *vp = mv.t.data_ptr<T>();
    const T *gp = mg.t.data_ptr<T>(), *pp = pc.data_ptr<T>();
    T *gqp = gq.data_ptr<T>(), *gkp = gk.data_ptr<T>(), *gvp = gv.data_ptr<T>();
    detail::parallel_for(
        nb, grain_of(n.tq, n.tk, std::max(n.d, n.dv)), [&](std::int64_t b0, std::int64_t b1) {
          Scratch<T> scratch(n);
          for (std::int64_t b = b0; b < b1; ++b) {
            const auto i = static_cast<std::size_t>(b);
            backward_one(gp + mg.start[i], mg.row_stride, qp + mq.start[i], mq.row_stride,
                         kp + mk.start[i], mk.row_stride, vp + mv.start[i], mv.row_stride,
                         pp + b * n.tq * n.tk, gqp + b * n.tq * n.d, gkp + b * n.tk * n.d,
                         gvp + b * n.tk * n.dv, n, static_cast<T>(scale), scratch);
          }
        });
  });
  return {gq, gk, gv};
}

}  // namespace tg::kernels
