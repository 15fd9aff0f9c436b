// In-place ops. Without autograd they write straight into the tensor's storage. When the tensor
// is part of a recorded graph, the result is computed by the out-of-place op (which records its
// node), written back, and the tensor's history is moved onto that node. Either way the version
// counter is bumped, so a node that saved the old values refuses to run backward.
#include <functional>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/shape.h"

namespace tg {
namespace {

bool tracked(const Tensor& self, const Tensor& other) {
  return GradMode::is_enabled() &&
         (self.requires_grad() || (other.defined() && other.requires_grad()));
}

// Writes `result` (recorded) into self and gives self result's history.
Tensor& rebase(Tensor& self, const char* op, const Tensor& result) {
  TG_CHECK(!(self.is_leaf() && self.requires_grad()), op,
           ": a leaf tensor that requires grad cannot be modified in place while grad mode is on ",
           "(wrap the update in tg::NoGradGuard)");
  TG_CHECK(result.shape() == self.shape(), op, ": cannot write a result of shape ",
           shape_str(result.shape()), " into a tensor of shape ", shape_str(self.shape()));
  {
    NoGradGuard guard;
    kernels::binary_inplace(op, self, result, [](auto, auto r) { return r; });
  }
  self.impl()->storage->bump_version();
  self.impl()->grad_fn = result.grad_fn();
  self.impl()->output_nr = result.impl()->output_nr;
  return self;
}

template <typename F>
Tensor& inplace_binary(Tensor& self, const char* op, const Tensor& other,
                       const std::function<Tensor(const Tensor&, const Tensor&)>& out_of_place,
                       F kernel) {
  if (tracked(self, other)) return rebase(self, op, out_of_place(self, other));
  kernels::binary_inplace(op, self, other, kernel);
  self.impl()->storage->bump_version();
  return self;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return inplace_binary(
      *this, "add_", other, [alpha](const Tensor& a, const Tensor& b) { return add(a, b, alpha); },
      [alpha](auto x, auto y) { return x + static_cast<decltype(x)>(alpha) * y; });
}
Tensor& Tensor::sub_(const Tensor& other) {
  return inplace_binary(
      *this, "sub_", other, [](const Tensor& a, const Tensor& b) { return sub(a, b); },
      [](auto x, auto y) { return x - y; });
}
Tensor& Tensor::mul_(const Tensor& other) {
  return inplace_binary(
      *this, "mul_", other, [](const Tensor& a, const Tensor& b) { return mul(a, b); },
      [](auto x, auto y) { return x * y; });
}
Tensor& Tensor::div_(const Tensor& other) {
  TG_CHECK(is_floating_point(), "div_: in-place division needs a floating-point tensor, got ",
           dtype());
  return inplace_binary(
      *this, "div_", other, [](const Tensor& a, const Tensor& b) { return div(a, b); },
      [](auto x, auto y) { return x / y; });
}
Tensor& Tensor::add_(double v) { return add_(wrap_scalar(v, *this)); }
Tensor& Tensor::sub_(double v) { return sub_(wrap_scalar(v, *this)); }
Tensor& Tensor::mul_(double v) { return mul_(wrap_scalar(v, *this)); }
Tensor& Tensor::div_(double v) { return div_(wrap_scalar(v, *this)); }

Tensor& Tensor::fill_(double value) {
  if (tracked(*this, {})) return rebase(*this, "fill_", *this * 0.0 + value);
  dispatch(dtype(), [&]<typename T>() {
    detail::map_kernel<T>(*this, {}, [v = static_cast<T>(value)]() { return v; });
  });
  impl()->storage->bump_version();
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::copy_(const Tensor& src) {
  TG_CHECK(src.defined(), "copy_: source tensor is undefined");
  if (tracked(*this, src)) {
    const Tensor cast = src.dtype() == dtype() ? src : to_dtype(src, dtype());
    return rebase(*this, "copy_", tg::expand(cast, shape()));
  }
  kernels::binary_inplace("copy_", *this, src, [](auto, auto s) { return s; });
  impl()->storage->bump_version();
  return *this;
}

}  // namespace tg
