#pragma once
// Matrix products on OpenBLAS GEMM. Transposed views are passed to BLAS as transpose flags,
// never copied.
#include "tapegrad/core/tensor.h"

namespace tg {

// numpy.matmul semantics: 1-D·1-D dot, 2-D·2-D matrix product, 1-D operands promoted to
// matrices and squeezed back, batch dims (all but the last two) broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);  // 2-D only

}  // namespace tg
