// Matrix products. matmul's backward is itself written with matmul on transposed views, so it
// is differentiable again and never copies a transpose.
#include "tapegrad/ops/linalg.h"

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/gemm.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {

Dtype matmul_dtype(const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dtype() == b.dtype(), "matmul: dtypes differ (", a.dtype(), " vs ", b.dtype(), ")");
  TG_CHECK(a.is_floating_point(), "matmul: expected float32 or float64 tensors, got ", a.dtype());
  return a.dtype();
}

// a: [..., m, k] and b: [..., k, n] with at least 2 dims each; batch dims broadcast.
Tensor batched_matmul(const Tensor& a, const Tensor& b) {
  const Dtype dtype = matmul_dtype(a, b);
  const auto m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1];
  const auto k2 = b.shape()[b.dim() - 2], n = b.shape()[b.dim() - 1];
  TG_CHECK(k == k2, "matmul: cannot multiply ", shape_str(a.shape()), " by ", shape_str(b.shape()),
           " (", k, " != ", k2, ")");
  const Shape abatch(a.shape().begin(), a.shape().end() - 2);
  const Shape bbatch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes("matmul", abatch, bbatch);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = empty(out_shape, dtype);
  const std::int64_t nb = numel_of(batch);
  if (nb == 0 || m == 0 || n == 0) return out;

  const Tensor av = a.detach(), bv = b.detach();
  if (batch.empty()) {
    kernels::gemm(av, bv, out);
    return out;
  }
  // [B..., m, k] @ [k, n] with a row-major a: one GEMM over all rows.
  if (bbatch.empty() && av.is_contiguous() && abatch == batch) {
    kernels::gemm(av.reshape({nb * m, k}), bv, out.view({nb * m, n}));
    return out;
  }
  Shape ae = batch, be = batch;
  ae.insert(ae.end(), {m, k});
  be.insert(be.end(), {k, n});
  const Tensor aexp = av.expand(ae).reshape({nb, m, k}), bexp = bv.expand(be).reshape({nb, k, n});
  const Tensor o3 = out.view({nb, m, n});
  for (std::int64_t i = 0; i < nb; ++i)
    kernels::gemm(aexp.select(0, i), bexp.select(0, i), o3.select(0, i));
  return out;
}

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  Tensor y = batched_matmul(a, b);
  return record("matmul", {a, b}, y, {a, b}, [](const Tensor& g, const Saved& s) {
    const Tensor a = s[0], b = s[1];
    // The engine sums broadcast batch dims back to each input's shape.
    return grads{s.needs_grad(0) ? matmul_nd(g, b.transpose(-1, -2)) : Tensor(),
                 s.needs_grad(1) ? matmul_nd(a.transpose(-1, -2), g) : Tensor()};
  });
}

Tensor scaled(const Tensor& t, double alpha) { return alpha == 1.0 ? t : t * alpha; }

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const autograd::OpScope scope("matmul", {a, b});
  TG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1)
    TG_CHECK(a.shape()[0] == b.shape()[0], "matmul: cannot multiply ", shape_str(a.shape()), " by ",
             shape_str(b.shape()), " (", a.shape()[0], " != ", b.shape()[0], ")");
  // 1-D operands become matrices ([k] -> [1, k] on the left, [k, 1] on the right) and the
  // added dim is removed again.
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  Tensor y = matmul_nd(a2, b2);
  if (b.dim() == 1) y = y.squeeze(-1);
  if (a.dim() == 1) y = y.squeeze(a.dim() == 1 && b.dim() == 1 ? 0 : -2);
  return y;
}

Tensor mm(const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got ", shape_str(a.shape()),
           " and ", shape_str(b.shape()));
  return matmul_nd(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got ", shape_str(a.shape()),
           " and ", shape_str(b.shape()));
  TG_CHECK(a.shape()[0] == b.shape()[0], "bmm: batch sizes differ: ", shape_str(a.shape()), " and ",
           shape_str(b.shape()));
  TG_CHECK(a.shape()[2] == b.shape()[1], "bmm: cannot multiply ", shape_str(a.shape()), " by ",
           shape_str(b.shape()), " (", a.shape()[2], " != ", b.shape()[1], ")");
  return matmul_nd(a, b);
}

Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha) {
  TG_CHECK(a.dim() == 2 && b.dim() == 2, "addmm: expected 2-D matrices, got ", shape_str(a.shape()),
           " and ", shape_str(b.shape()));
  TG_CHECK(a.shape()[1] == b.shape()[0], "addmm: cannot multiply ", shape_str(a.shape()), " by ",
           shape_str(b.shape()), " (", a.shape()[1], " != ", b.shape()[0], ")");
  TG_CHECK(a.dtype() == b.dtype() && a.dtype() == input.dtype(), "addmm: dtypes differ (",
           input.dtype(), ", ", a.dtype(), ", ", b.dtype(), ")");
  TG_CHECK(a.is_floating_point(), "addmm: expected float32 or float64 tensors, got ", a.dtype());
  const Shape out_shape{a.shape()[0], b.shape()[1]};
  TG_CHECK(broadcast_shapes("addmm", input.shape(), out_shape) == out_shape, "addmm: input of ",
           "shape ", shape_str(input.shape()), " does not broadcast to the result shape ",
           shape_str(out_shape));
  Tensor y = empty(out_shape, a.dtype());
  {
    NoGradGuard no_grad;
    if (beta != 0.0) y.copy_(input.detach());
    kernels::gemm(a.detach(), b.detach(), y, alpha, beta);
  }
  return record("addmm", {input, a, b}, y, {a, b}, [beta, alpha](const Tensor& g, const Saved& s) {
    const Tensor ma = s[0], mb = s[1];
    // The engine sums the input's gradient back over its broadcast dims.
    return grads{s.needs_grad(0) ? (beta == 1.0 ? g : g * beta) : Tensor(),
                 s.needs_grad(1) ? scaled(matmul_nd(g, mb.transpose(0, 1)), alpha) : Tensor(),
                 s.needs_grad(2) ? scaled(matmul_nd(ma.transpose(0, 1), g), alpha) : Tensor()};
  });
}

Tensor outer(const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dim() == 1 && b.dim() == 1, "outer: expected 1-D tensors, got ", shape_str(a.shape()),
           " and ", shape_str(b.shape()));
  // [m, 1] @ [1, n]: a rank-1 GEMM; the backward is matmul again.
  return matmul_nd(a.unsqueeze(1), b.unsqueeze(0));
}

Tensor dot(const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got ", shape_str(a.shape()),
           " and ", shape_str(b.shape()));
  TG_CHECK(a.shape()[0] == b.shape()[0], "dot: lengths differ (", a.shape()[0], " vs ",
           b.shape()[0], ")");
  return matmul(a, b);
}

}  // namespace tg
