#include "tapegrad/ops/kernels/gemm.h"

#include <cblas.h>

#include <tbb/parallel_for.h>
#include <algorithm>
#include <thread>
#include <type_traits>

#include "tapegrad/core/blas_info.h"
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

// Panels: a big product is cut into row or column panels, each one single-threaded OpenBLAS call,
// and TBB runs the panels side by side. How many panels follows from the product alone, never
// from the thread count: OpenBLAS's kernels compute an element differently depending on where it
// falls in the call (the Haswell sgemm kernel's edge code rounds differently from its main loop),
// so panel boundaries that moved with the thread count gave different bits on 1 and 2 threads.
// On one thread the same panels run one after the other.
//
// A panel must be worth a task: below about kMinPanelNs of BLAS time, the second core spends
// more on fetching the operands from the first core's cache (and sending its half of the result
// back) than it saves. The threshold is in estimated time, not multiply-adds, so it holds for
// slow kernels as for fast ones: with the AVX-512 kernels it is the 8M multiply-adds per part
// that whole-epoch runs showed (compare_libtorch --scaling); with the SSE3 kernels, about 5x
// slower, products of 2M already split.
constexpr double kMinPanelNs = 8.0e6 / 70.0;
// At most as many panels as this machine has cores (the largest power of two not above it, up to
// 16; powers of two so that 2, 4, 8 threads get equal shares). Each panel packs the other
// operand again, which a run on fewer threads pays too: 16 panels made a [128, 784] x
// [784, 1024] product 10-30% slower on one thread than one call, 2 panels 0-5%. The core count
// is the machine's (std::thread::hardware_concurrency), not set_num_threads: on one machine the
// panels, and so the bits, never change with the thread setting.
std::int64_t max_panels() {
  static const std::int64_t cap = [] {
    const auto cores = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
    std::int64_t p = 1;
    while (p * 2 <= cores && p < 16) p *= 2;
    return p;
  }();
  return cap;
}
// Panel edges fall on multiples of this many rows or columns (a multiple of most kernels' tiles;
// 16 would split the 784-89-10 net's 100-row products 64/36 instead of 56/44).
constexpr std::int64_t kPartAlign = 8;

template <typename T>
void gemm_typed(const T* a, Layout la, const T* b, Layout lb, T* c, std::int64_t ldc,
                std::int64_t m, std::int64_t n, std::int64_t k, T alpha, T beta) {
  // Split the larger of M and N: every panel packs the whole other operand, so cutting the
  // larger dimension repeats the smaller packing. Each C element is still computed by one BLAS
  // call that sums over all of K, in a blocking OpenBLAS derives from K alone.
  const bool split_rows = m > n;
  const std::int64_t len = split_rows ? m : n;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const double est_ns = macs * (sizeof(T) == 8 ? 2.0 : 1.0) / detail::blas_macs_per_ns();
  std::int64_t panels = 1;
  while (panels < max_panels() && est_ns / static_cast<double>(2 * panels) >= kMinPanelNs &&
         len / (2 * panels) >= kPartAlign)
    panels *= 2;
  if (panels == 1) {
    gemm_block(a, la, b, lb, c, ldc, 0, m, 0, n, k, alpha, beta);
    return;
  }
  const std::int64_t step =
      ((len + panels - 1) / panels + kPartAlign - 1) / kPartAlign * kPartAlign;
  panels = (len + step - 1) / step;
  const auto run = [&](std::int64_t p) {
    const std::int64_t lo = p * step, hi = std::min(len, lo + step);
    if (split_rows)
      gemm_block(a, la, b, lb, c, ldc, lo, hi, 0, n, k, alpha, beta);
    else
      gemm_block(a, la, b, lb, c, ldc, 0, m, lo, hi, k, alpha, beta);
  };
  if (get_num_threads() == 1) {
    for (std::int64_t p = 0; p < panels; ++p) run(p);
    return;
  }
  tbb::parallel_for(std::int64_t{0}, panels, run);
}
}  // namespace

void gemm(const Tensor& a_in, const Tensor& b_in, const Tensor& c, double alpha, double beta) {
  const auto m = a_in.shape()[0], k = a_in.shape()[1], n = b_in.shape()[1];
  if (m == 0 || n == 0) return;
  detail::ensure_blas_ready();
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

template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS does not scale C when k == 0 on every implementation
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        c[i * ldc + j] = beta == T(0) ? T(0) : c[i * ldc + j] * beta;
    return;
  }
  detail::ensure_blas_ready();
  gemm_typed(a, Layout{trans_a ? CblasTrans : CblasNoTrans, lda}, b,
             Layout{trans_b ? CblasTrans : CblasNoTrans, ldb}, c, ldc, m, n, k, alpha, beta);
}
template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, const double*, std::int64_t, double,
                           double*, std::int64_t);

}  // namespace tg::kernels
