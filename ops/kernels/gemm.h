#pragma once
// C = alpha * op(A) @ op(B) + beta * C on OpenBLAS. A and B may be transposed views: they are
// handed to BLAS as transpose flags with their leading dimension, and copied only when their
// strides fit neither layout.
#include "tapegrad/core/tensor.h"

namespace tg::kernels {

// a: [m, k], b: [k, n], c: [m, n] with unit stride on its last dim; float32 or float64.
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha = 1.0,
          double beta = 0.0);

}  // namespace tg::kernels
