#include <cmath>
#include <limits>

#include "tapegrad/ops/kernels/rows.h"

namespace tg::kernels {

Tensor softmax(const Tensor& x_in, std::int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const Tensor x = x_in.detach().contiguous();
  Tensor y = empty(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  const Rows rows = rows_along(x.shape(), dim);
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
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
