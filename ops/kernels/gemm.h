#pragma once
// C = alpha * op(A) @ op(B) + beta * C on OpenBLAS. A and B may be transposed views: they are
// handed to BLAS as transpose flags with their leading dimension, and copied only when their
// strides fit neither layout.
#include "tapegrad/core/tensor.h"

namespace tg::kernels {

// a: [m, k], b: [k, n], c: [m, n] with unit stride on its last dim; float32 or float64.
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha = 1.0, double beta = 0.0);

// The same engine (panels on the TBB pool, bits independent of the thread count) on raw
// row-major matrices, for kernels that build their own operands (im2col in ops/kernels/conv.cpp).
// op(A) is [m, k], op(B) is [k, n]; lda/ldb/ldc are row strides of the stored matrices.
template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

}  // namespace tg::kernels
