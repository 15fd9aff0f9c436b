#include <cmath>
#include <limits>

#include "tapegrad/ops/kernels/rows.h"
#include "tapegrad/ops/kernels/vec_math.h"

namespace tg::kernels {
namespace {
// A contiguous row (the usual case: softmax over the last dim). exp comes from vec_math (within
// 2 ulp in float32) and the sum goes to eight double accumulators, so the loops vectorize and
// float32 rows of many classes keep their accuracy. kWrite selects softmax (write e^(x - m))
// or log_softmax (only sum here).
template <bool kWrite, typename T>
double exp_sum(const T* __restrict x, T* __restrict y, std::int64_t n, T m) {
  constexpr int kLanes = 8;
  double acc[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const T e = vec::exp(x[i + j] - m);
      if constexpr (kWrite) y[i + j] = e;
      acc[j] += static_cast<double>(e);
    }
  double total = 0.0;
  for (; i < n; ++i) {
    const T e = vec::exp(x[i] - m);
    if constexpr (kWrite) y[i] = e;
    total += static_cast<double>(e);
  }
  for (int j = 0; j < kLanes; ++j) total += acc[j];
  return total;
}

template <typename T>
void softmax_contiguous_row(const T* __restrict x, T* __restrict y, std::int64_t n, bool log) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (m == -std::numeric_limits<T>::infinity()) m = T(0);  // see softmax() below
  if (log) {
    const T shift = static_cast<T>(std::log(exp_sum<false>(x, y, n, m)));
    for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - shift;
  } else {
    const T inv = static_cast<T>(1.0 / exp_sum<true>(x, y, n, m));
    for (std::int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}
}  // namespace

Tensor softmax(const Tensor& x_in, std::int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const Tensor x = x_in.detach().contiguous();
  Tensor y = empty(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  const Rows rows = rows_along(x.shape(), dim);
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    if (rows.inner == 1) {
      for_each_row(rows, [&](std::int64_t r) {
        softmax_contiguous_row(xp + r * rows.n, yp + r * rows.n, rows.n, log);
      });
      return;
    }
    for_each_row(rows, [&](std::int64_t r) {
      const T* xr = xp + rows.base(r);
      T* yr = yp + rows.base(r);
      const std::int64_t s = rows.inner;
      T m = -std::numeric_limits<T>::infinity();
      for (std::int64_t i = 0; i < rows.n; ++i) m = std::max(m, xr[i * s]);
      // An all -inf row: shift by 0 instead of computing -inf - -inf (the row still ends up NaN,
      // like PyTorch, through 0 / 0).
      if (m == -std::numeric_limits<T>::infinity()) m = T(0);
      double total = 0.0;  // accumulated in double: float32 rows of many classes stay accurate
      if (log) {
        for (std::int64_t i = 0; i < rows.n; ++i) total += std::exp(xr[i * s] - m);
        const T shift = static_cast<T>(std::log(total));
        for (std::int64_t i = 0; i < rows.n; ++i) yr[i * s] = (xr[i * s] - m) - shift;
      } else {
        for (std::int64_t i = 0; i < rows.n; ++i) {
          const T e = std::exp(xr[i * s] - m);
          yr[i * s] = e;
          total += e;
        }
        const T inv = static_cast<T>(1.0 / total);
        for (std::int64_t i = 0; i < rows.n; ++i) yr[i * s] *= inv;
      }
    });
  });
  return y;
}

}  // namespace tg::kernels
