#pragma once
// Matrix products on OpenBLAS GEMM. Transposed views are passed to BLAS as transpose flags,
// never copied.
#include "tapegrad/core/tensor.h"

namespace tg {

// numpy.matmul semantics: 1-D·1-D dot, 2-D·2-D matrix product, 1-D operands promoted to
// matrices and squeezed back, batch dims (all but the last two) broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);  // 2-D only
// [B, m, k] @ [B, k, n] -> [B, m, n]; 3-D only, no broadcasting.
Tensor bmm(const Tensor& a, const Tensor& b);
// beta * input + alpha * (a @ b) in one GEMM: input (broadcastable to [m, n]) is copied into the
// result and accumulated into by BLAS. a: [m, k], b: [k, n]. With beta == 0, input is ignored
// (NaN in it does not propagate), like PyTorch.
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta = 1.0,
             double alpha = 1.0);
Tensor outer(const Tensor& a, const Tensor& b);  // [m] x [n] -> [m, n]
Tensor dot(const Tensor& a, const Tensor& b);    // [n] . [n] -> 0-dim

}  // namespace tg
