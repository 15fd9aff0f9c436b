#include "tapegrad/ops/kernels/gemm.h"

#include <cblas.h>

namespace tg::kernels {
namespace {
struct Layout {
  CBLAS_TRANSPOSE trans;
  std::int64_t ld;
};

// How BLAS can read the [rows, cols] matrix t in row-major terms, if it can without a copy.
bool blas_layout(const Tensor& t, Layout& out) {
  const auto rows = t.shape()[0], cols = t.shape()[1];
  const auto s0 = t.strides()[0], s1 = t.strides()[1];
  if ((s1 == 1 || cols == 1) && (s0 >= std::max<std::int64_t>(cols, 1) || rows == 1)) {
    out = {CblasNoTrans, rows == 1 ? std::max<std::int64_t>(cols, 1) : s0};
    return true;
  }
  if ((s0 == 1 || rows == 1) && (s1 >= std::max<std::int64_t>(rows, 1) || cols == 1)) {
    out = {CblasTrans, cols == 1 ? std::max<std::int64_t>(rows, 1) : s1};
    return true;
  }
  return false;
}
}  // namespace

void gemm(const Tensor& a_in, const Tensor& b_in, const Tensor& c, double alpha, double beta) {
  const auto m = a_in.shape()[0], k = a_in.shape()[1], n = b_in.shape()[1];
  if (m == 0 || n == 0) return;
  Tensor a = a_in, b = b_in;
  Layout la{}, lb{};
  if (!blas_layout(a, la)) {
    a = a.detach().contiguous();
    blas_layout(a, la);
  }
  if (!blas_layout(b, lb)) {
    b = b.detach().contiguous();
    blas_layout(b, lb);
  }
  const auto ldc = m == 1 ? std::max<std::int64_t>(n, 1) : c.strides()[0];
  if (k == 0) {  // BLAS does not scale C when k == 0 on every implementation
    if (beta == 0.0) c.detach().zero_();
    else c.detach().mul_(beta);
    return;
  }
  if (c.dtype() == kFloat32) {
    cblas_sgemm(CblasRowMajor, la.trans, lb.trans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), static_cast<float>(alpha), a.data_ptr<float>(),
                static_cast<int>(la.ld), b.data_ptr<float>(), static_cast<int>(lb.ld),
                static_cast<float>(beta), c.data_ptr<float>(), static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, la.trans, lb.trans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), alpha, a.data_ptr<double>(), static_cast<int>(la.ld),
                b.data_ptr<double>(), static_cast<int>(lb.ld), beta, c.data_ptr<double>(),
                static_cast<int>(ldc));
  }
}

}  // namespace tg::kernels
