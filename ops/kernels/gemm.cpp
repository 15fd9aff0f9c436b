#include "tapegrad/ops/kernels/gemm.h"

#include <cblas.h>

#include <tbb/parallel_for.h>
#include <algorithm>
#include <type_traits>

#include "tapegrad/core/threading.h"

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

// One BLAS call on a row block [r0, r1) and column block [c0, c1) of C.
template <typename T>
void gemm_block(const T* a, Layout la, const T* b, Layout lb, T* c, std::int64_t ldc,
                std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1, std::int64_t k,
                T alpha, T beta) {
  // Row i of op(A) starts at a + i * lda untransposed, at a + i transposed; likewise columns of B.
  const T* ap = a + (la.trans == CblasNoTrans ? r0 * la.ld : r0);
  const T* bp = b + (lb.trans == CblasNoTrans ? c0 : c0 * lb.ld);
  T* cp = c + r0 * ldc + c0;
  const auto m = static_cast<int>(r1 - r0), n = static_cast<int>(c1 - c0);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, la.trans, lb.trans, m, n, static_cast<int>(k), alpha, ap,
                static_cast<int>(la.ld), bp, static_cast<int>(lb.ld), beta, cp,
                static_cast<int>(ldc));
  else
    cblas_dgemm(CblasRowMajor, la.trans, lb.trans, m, n, static_cast<int>(k), alpha, ap,
                static_cast<int>(la.ld), bp, static_cast<int>(lb.ld), beta, cp,
                static_cast<int>(ldc));
}

// Below this many multiply-adds per part a split costs more than the second core gives back:
// the task start, packing the shared operand again, and above all moving data between the
// cores' caches. In a hot loop (bench_gemm) even 1M per part pays: the 784-30-10 net's input
// layer ([100, 784] x [784, 30], 2.35M) went from 66 to 42 us on 2 threads. In real training
// it does not: the other core has to fetch the batch, and its half of the result (a weight
// gradient, say) then has to come back. With OpenBLAS's AVX-512 kernels, splitting the
// 784-89-10 net's 4.5M products made whole epochs 3-25% slower on 2 threads than on 1
// (compare_libtorch --scaling). At 8M the small nets' products stay on one core and all of
// the 784-1024-512-10 net's products except the 10-wide layer's are split.
constexpr double kMinMacsPerPart = 8.0e6;
// Parts are cut at multiples of this many rows or columns (a multiple of the kernels' tiles).
constexpr std::int64_t kPartAlign = 8;

template <typename T>
void gemm_typed(const T* a, Layout la, const T* b, Layout lb, T* c, std::int64_t ldc,
                std::int64_t m, std::int64_t n, std::int64_t k, T alpha, T beta) {
  // Split the larger of M and N: every part packs the whole other operand, so cutting the larger
  // dimension repeats the smaller packing. Each C element is still computed by one BLAS call
  // that sums over all of K in the same blocking (OpenBLAS blocks K by K alone), so the result
  // does not depend on the number of parts.
  const bool split_rows = m > n;
  const std::int64_t len = split_rows ? m : n;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  std::int64_t parts = std::min<std::int64_t>(get_num_threads(), len / kPartAlign);
  parts = std::min<std::int64_t>(parts, static_cast<std::int64_t>(macs / kMinMacsPerPart));
  if (parts <= 1) {
    gemm_block(a, la, b, lb, c, ldc, 0, m, 0, n, k, alpha, beta);
    return;
  }
  const std::int64_t step = ((len + parts - 1) / parts + kPartAlign - 1) / kPartAlign * kPartAlign;
  parts = (len + step - 1) / step;
  tbb::parallel_for(std::int64_t{0}, parts, [&](std::int64_t p) {
    const std::int64_t lo = p * step, hi = std::min(len, lo + step);
    if (split_rows)
      gemm_block(a, la, b, lb, c, ldc, lo, hi, 0, n, k, alpha, beta);
    else
      gemm_block(a, la, b, lb, c, ldc, 0, m, lo, hi, k, alpha, beta);
  });
}
}  // namespace

void gemm(const Tensor& a_in, const Tensor& b_in, const Tensor& c, double alpha, double beta) {
  const auto m = a_in.shape()[0], k = a_in.shape()[1], n = b_in.shape()[1];
  if (m == 0 || n == 0) return;
  detail::use_blas_single_threaded();
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
    if (beta == 0.0)
      c.detach().zero_();
    else
      c.detach().mul_(beta);
    return;
  }
  if (c.dtype() == kFloat32)
    gemm_typed(a.data_ptr<float>(), la, b.data_ptr<float>(), lb, c.data_ptr<float>(), ldc, m, n, k,
               static_cast<float>(alpha), static_cast<float>(beta));
  else
    gemm_typed(a.data_ptr<double>(), la, b.data_ptr<double>(), lb, c.data_ptr<double>(), ldc, m, n,
               k, alpha, beta);
}

}  // namespace tg::kernels
